"""Every form field has a label and a hint, and no short text is defined twice."""

from __future__ import annotations

import re

from commands.melding import melding_fields
from commands.organisation import Organisation
from messages.render import TEMPLATES, renderer
from tests.conftest import member


def test_every_field_has_label_and_hint(org: Organisation) -> None:
    text = renderer("plain")
    for field in melding_fields(org, member(org, "joost")):
        assert text.label(f"veld.{field.name}") != f"veld.{field.name}"
        assert text.label(f"hint.{field.name}") != f"hint.{field.name}"


def test_no_label_key_defined_twice() -> None:
    seen: dict[str, str] = {}
    for path in sorted((TEMPLATES / "nl").glob("labels*.j2")):
        for key in re.findall(r'^\s*"([^"]+)":', path.read_text(), re.MULTILINE):
            assert key not in seen, f"{key} staat in {seen[key]} en {path.name}"
            seen[key] = path.name
