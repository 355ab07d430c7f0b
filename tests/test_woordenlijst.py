"""Every user-facing text uses the words of the glossary (messages/woordenlijst.yaml): one
word per concept and one form of address, 'je'."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

MESSAGES = Path(__file__).resolve().parent.parent / "messages"
JINJA = re.compile(r"{#.*?#}|{%.*?%}", re.DOTALL)
LABEL_KEY = re.compile(r'^\s*"[^"]*":\s*', re.MULTILINE)  # a label's key is code, its text is not
EXPRESSION = re.compile(r"{{(.*?)}}", re.DOTALL)
QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")


def glossary() -> list[dict[str, object]]:
    entries = yaml.safe_load((MESSAGES / "woordenlijst.yaml").read_text(encoding="utf-8"))
    assert isinstance(entries, list) and entries
    return entries


def shown_text(source: str) -> str:
    """What a reader can see: literal text and the string literals inside expressions and
    label tables, without tags, comments, variable names and label keys."""
    literals = " ".join(a or b for a, b in QUOTED.findall(" ".join(EXPRESSION.findall(source))))
    tables = " ".join(a or b for a, b in QUOTED.findall(" ".join(
        LABEL_KEY.sub("", block) for block in re.findall(r"{%\s*set\s+\w+\s*=\s*{(.*?)}\s*%}",
                                                            source, re.DOTALL))))
    return " ".join((EXPRESSION.sub(" ", JINJA.sub(" ", source)), literals, tables))


def test_every_entry_is_complete() -> None:
    for entry in glossary():
        assert entry.get("woord") and entry.get("niet") and entry.get("uitleg"), entry


def test_templates_use_the_words_of_the_glossary() -> None:
    wrong = []
    for path in sorted((MESSAGES / "templates" / "nl").rglob("*.j2")):
        text = f" {shown_text(path.read_text(encoding='utf-8'))} "
        for entry in glossary():
            for avoid in entry["niet"]:  # type: ignore[attr-defined]
                pattern = re.escape(avoid) if avoid != avoid.strip() else rf"\b{re.escape(avoid)}\b"
                if re.search(pattern, text):
                    wrong.append(f"{path.relative_to(MESSAGES)}: '{avoid.strip()}' → '{entry['woord']}'")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_label_texts_but_not_keys() -> None:
    source = '{% set labels = {\n  "herinnering.urgent": "spoed",\n  "x": "urgent zaak"} %}'
    assert "urgent zaak" in shown_text(source) and "herinnering.urgent" not in shown_text(source)


def test_roles_are_shown_as_words() -> None:
    from commands.replies import Message
    from messages.render import renderer

    text = renderer("plain").render(Message("fout/geen_rol", {
        "rollen": ["coordinator", "admin", "voorzitter"], "vraag": ["Joost van Dam"]}))
    assert "coördinator, beheerder of voorzitter" in text and "coordinator" not in text
