"""Every template named in code exists, and every template file is used.

Template names are collected from the code (bot/, commands/, messages/) by reading it, not by
running it:
- a full name ("map/naam") passed to one of `FULL_NAME_CALLS` (Message, reply, text, …): it
  must exist;
- a short name passed to one of `SHORT_NAME_CALLS`, which the callee completes with a fixed
  prefix (`FieldProblem("verplicht")` becomes `fout/verplicht`): it must exist;
- an f-string passed to those calls whose fixed start goes beyond the prefix
  (`FieldProblem(f"identificatie_{soort}")`): every template starting with it is used;
- names built at run time from other literals, listed explicitly in `DYNAMIC_NAMES` (where,
  the pattern of the literals, the prefix that completes them);
- any other string literal that spells a template's full name (a mapping of reminder kind
  → template, for instance) marks it used.
A template is also used when another template includes it. The labels*.j2 files are all
loaded by `messages.render` and count as used.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "messages" / "templates" / "nl"
CODE = ("bot", "commands", "messages")

FULL_NAME = re.compile(r"[a-z_]+/[a-z0-9_]+")
SHORT_NAME = re.compile(r"[a-z0-9_]+")
INCLUDE = re.compile(r"{%-?\s*(?:include|import|from|extends)\s+[\"']([^\"']+)\.j2[\"']")

# Calls whose string arguments name a template in full.
FULL_NAME_CALLS = frozenset({
    "Message", "reply", "text", "_text", "CommandRefused", "say_text", "_say",
})

# (where, call) → the prefix the callee puts before a short name. `where` is a folder or file
# under the project root; the call's string arguments without a "/" are short names.
SHORT_NAME_CALLS: dict[tuple[str, str], str] = {
    ("commands", "FieldProblem"): "fout/",          # Message(f"fout/{problem.template}")
    ("bot", "FieldProblem"): "fout/",
    ("bot/slack", "Usage"): "slack/",               # Message(f"slack/{template}")
    ("bot/slack", "_reference"): "slack/",
    ("bot/slack", "_intro"): "slack/",
    ("bot/slack", "text"): "slack/",                # bot.slack.forms.text
    ("messages/slack.py", "_note"): "slack/",
    ("messages/telegram.py", "_note"): "telegram/",
    ("bot/keys.py", "_refusal"): "privacy/",        # text(f"privacy/{template}")
}

# Names put together at run time: (where, pattern of the literal, prefix). Every string
# literal in `where` that matches the pattern names the template prefix + literal.
DYNAMIC_NAMES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    # the usage lines of /regie: a table of command → ("flow", "gebruik_…"), and
    # _reference(words, f"gebruik_{name}")
    ("bot/slack", re.compile(r"gebruik_[a-z_]+"), "slack/"),
    # the key check's refusal: template = "sleutel_ontbreekt" if … else "sleutel_past_niet"
    ("bot/keys.py", re.compile(r"sleutel_[a-z_]+"), "privacy/"),
)


@dataclass(frozen=True)
class Named:
    template: str
    where: str  # file:line, for the failure message

    def __str__(self) -> str:
        return f"{self.template} ({self.where})"


def code_files() -> Iterator[Path]:
    for folder in CODE:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _strings(call: ast.Call) -> Iterator[ast.Constant]:
    for argument in [*call.args, *(k.value for k in call.keywords if k.arg == "template")]:
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            yield argument


def _prefix_for(path: Path, name: str) -> str | None:
    relative = path.relative_to(ROOT).as_posix()
    for (where, call), prefix in SHORT_NAME_CALLS.items():
        if call == name and (relative == where or relative.startswith(where + "/")):
            return prefix
    return None


def _fstring_head(node: ast.JoinedStr) -> str:
    first = node.values[0] if node.values else None
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ""


def named_in_code() -> list[Named]:
    """Every template name the code uses, with where it is used. A name ending in "*" is a
    prefix: every template starting with it is used."""
    found: list[Named] = []
    for path in code_files():
        relative = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for where, pattern, prefix in DYNAMIC_NAMES:
                    if ((relative == where or relative.startswith(where + "/"))
                            and pattern.fullmatch(node.value)):
                        found.append(Named(prefix + node.value, f"{relative}:{node.lineno}"))
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node)
            prefix = _prefix_for(path, name)
            for argument in node.args:
                if isinstance(argument, ast.JoinedStr) and (head := _fstring_head(argument)):
                    where = f"{relative}:{argument.lineno}"
                    if name in FULL_NAME_CALLS and "/" in head and not head.endswith("/"):
                        found.append(Named(head + "*", where))
                    elif prefix is not None and "/" not in head:
                        found.append(Named(prefix + head + "*", where))
            for literal in _strings(node):
                value, where = literal.value, f"{relative}:{literal.lineno}"
                if name in FULL_NAME_CALLS and FULL_NAME.fullmatch(value):
                    found.append(Named(value, where))
                elif prefix is not None and SHORT_NAME.fullmatch(value):
                    found.append(Named(prefix + value, where))
    return found


def spelled_anywhere() -> set[str]:
    """Every string literal in the code that has the form of a full template name."""
    names: set[str] = set()
    for path in code_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and FULL_NAME.fullmatch(node.value)):
                names.add(node.value)
    return names


def template_files() -> set[str]:
    return {p.relative_to(TEMPLATES).as_posix().removesuffix(".j2")
            for p in TEMPLATES.rglob("*.j2")}


def included() -> set[str]:
    names: set[str] = set()
    for path in TEMPLATES.rglob("*.j2"):
        names.update(INCLUDE.findall(path.read_text(encoding="utf-8")))
    return names


def test_the_collector_finds_names_in_every_form() -> None:
    """Guards the collector itself: one name of each kind is found."""
    names = {n.template for n in named_in_code()}
    assert {"rapport/rapport", "fout/verplicht", "slack/gebruik_stem", "slack/deel",
            "telegram/ingekort", "privacy/sleutel_ontbreekt"} <= names


def test_every_template_named_in_code_exists() -> None:
    files = template_files()
    missing = sorted({str(n) for n in named_in_code()
                      if not n.template.endswith("*") and n.template not in files})
    assert not missing, "templates named in code but not found under messages/templates/nl:\n" + \
        "\n".join(missing)


def test_every_template_file_is_used() -> None:
    named = named_in_code()
    used = {n.template for n in named} | included() | spelled_anywhere()
    prefixes = tuple(n.template[:-1] for n in named if n.template.endswith("*"))
    unused = sorted(name for name in template_files()
                    if name not in used and not name.startswith(("labels", *prefixes)))
    assert not unused, "template files nothing names (delete them, or list the pattern in " \
        "DYNAMIC_NAMES):\n" + "\n".join(unused)
