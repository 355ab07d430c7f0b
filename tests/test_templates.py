"""Every template renders with sample data, and sentences never run into each other.

Jinja2's `trim_blocks` eats the line break after a block tag, so a line that ends in
`{% endif %}` or an `{% include %}` can glue the next sentence to it ("…dec 2026Let op").
Each template is rendered for both outcomes of its conditions with a sample value that fits
any variable (a date, an amount, a list, a name), and the output is checked for a sentence end
or a digit directly followed by the start of a new sentence.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jinja2
import pytest
from jinja2 import meta

from messages import render
from messages.render import TEMPLATES, Renderer

TEMPLATE_FILES = sorted(p.relative_to(TEMPLATES / "nl").as_posix()
                        for p in (TEMPLATES / "nl").rglob("*.j2") if not p.name.startswith("labels"))
GLUED = re.compile(r"(?<=[a-z0-9\)\.!?:])(?=[A-Z][a-z]{2,})")
SAMPLE_DAY = date(2026, 12, 10)


class Sample:
    """Stands in for any value: text, number, date, list, mapping or object."""

    def __init__(self, truth: bool) -> None:
        self.truth = truth

    def __bool__(self) -> bool:
        return self.truth

    def __str__(self) -> str:
        return "voorbeeld"

    def __iter__(self) -> Iterator[Any]:  # two items: also unpacks as a pair (`for a, b in …`)
        return iter([Sample(self.truth), Sample(self.truth)] if self.truth else [])

    def __len__(self) -> int:
        return 2 if self.truth else 0

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return Sample(self.truth)

    def __getitem__(self, key: Any) -> Any:
        return Sample(self.truth)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return Sample(self.truth)

    def items(self) -> list[tuple[str, Any]]:
        return [("voorbeeld", Sample(self.truth))] if self.truth else []

    def values(self) -> list[Any]:
        return [Sample(self.truth)] if self.truth else []

    def keys(self) -> list[str]:
        return ["voorbeeld"] if self.truth else []

    def get(self, key: Any, default: Any = None) -> Any:
        return Sample(self.truth)

    def _number(self) -> int:
        return 2 if self.truth else 0

    def __int__(self) -> int:
        return self._number()

    def __index__(self) -> int:
        return self._number()

    def __eq__(self, other: object) -> bool:
        return self.truth and not isinstance(other, Sample)

    def __hash__(self) -> int:
        return 1

    def __lt__(self, other: Any) -> bool:
        return not self.truth

    def __gt__(self, other: Any) -> bool:
        return self.truth

    __le__ = __lt__
    __ge__ = __gt__

    def __add__(self, other: Any) -> Any:
        return other + self._number() if isinstance(other, int) else f"{self}{other}"

    def __radd__(self, other: Any) -> Any:
        return other + self._number() if isinstance(other, int) else f"{other}{self}"

    def __sub__(self, other: Any) -> Any:
        return self._number() - (other if isinstance(other, int) else 0)

    __rsub__ = __sub__
    __mul__ = __add__

    def __mod__(self, other: Any) -> int:
        return 0


def tolerant(filter_: Any) -> Any:
    def run(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, Sample):
            value = SAMPLE_DAY if filter_ in (render.datum, render.datum_lang) else (
                datetime(2026, 12, 10, 9, tzinfo=UTC) if filter_ is render.tijd else
                12345 if filter_ in (render.bedrag, render.getal) else
                ["voorbeeld", "nog een"] if filter_ is render.opsomming else str(value))
        return filter_(value, *args, **kwargs)

    return run


def sample_renderer() -> Renderer:
    renderer = Renderer("plain")
    renderer.env.undefined = jinja2.Undefined
    for name in ("datum", "datum_lang", "tijd", "bedrag", "getal", "opsomming", "leesbaar"):
        renderer.env.filters[name] = tolerant(renderer.env.filters[name])
    return renderer


def variables(renderer: Renderer, path: str) -> set[str]:
    """The names a template uses, and those of the templates it includes."""
    source = (TEMPLATES / "nl" / path).read_text(encoding="utf-8")
    tree = renderer.env.parse(source)
    names = set(meta.find_undeclared_variables(tree))
    for included in meta.find_referenced_templates(tree):
        if included:
            names |= variables(renderer, included)
    return names


MIXES = 8  # every variable true, every variable false, and six mixes


def truth_of(name: str, mix: int) -> bool:
    if mix < 2:
        return mix == 0
    return zlib.crc32(f"{name}:{mix}".encode()) % 2 == 0


@pytest.mark.parametrize("path", TEMPLATE_FILES)
def test_template_renders_with_space_between_sentences(path: str) -> None:
    renderer = sample_renderer()
    names = variables(renderer, path)
    for mix in range(MIXES):
        data = {name: Sample(truth_of(name, mix)) for name in names}
        text = renderer.env.get_template(path).render(**data)
        glued = [text[max(0, m.start() - 20):m.end() + 20] for m in GLUED.finditer(text)]
        assert not glued, f"{path}: zinnen plakken aan elkaar: {glued}"


def test_every_template_file_is_a_jinja_template() -> None:
    assert TEMPLATE_FILES and all(Path(TEMPLATES / "nl" / p).is_file() for p in TEMPLATE_FILES)
