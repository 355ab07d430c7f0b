"""The image's build context and Dockerfile: no secret reaches an image layer, the bot runs
as a non-root PID 1 that receives SIGTERM, and the dependencies come from the lock."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def _patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """.dockerignore as Docker reads it: glob patterns (`*`, `?`, `**`), `!` for exceptions,
    the last matching line wins, and a pattern that matches a directory covers its contents."""
    rules = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        regex = ""
        for part in re.split(r"(\*\*/?|\*|\?)", pattern):
            if part in ("**", "**/"):
                regex += "(?:.*/)?" if part == "**/" else ".*"
            elif part == "*":
                regex += "[^/]*"
            elif part == "?":
                regex += "[^/]"
            else:
                regex += re.escape(part)
        rules.append((negate, re.compile(regex + r"\Z")))
    return rules


def in_context(path: str) -> bool:
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negate, pattern in _patterns():
        if any(pattern.match(candidate) for candidate in candidates):
            excluded = not negate
    return not excluded


def context_listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and in_context(str(p.relative_to(root))))


@pytest.mark.parametrize("secret", [
    "deploy/.env", ".env", "deploy/.env.production", "var/regiebot.db", "var/secret.key",
    ".venv/bin/python", ".git/config", "tests/__pycache__/x.pyc", ".pytest_cache/v/x",
    "deploy/regieteam.yaml", "deploy/regieteam.example.yaml", "bot/__pycache__/cli.cpython-311.pyc",
])
def test_dockerignore_keeps_secrets_and_local_state_out(secret: str) -> None:
    assert not in_context(secret)


def test_the_context_of_this_checkout_has_no_env_file(tmp_path: Path) -> None:
    """Put a deploy/.env in a copy of the tree, as the operator does, and list the context."""
    for name in (".dockerignore", "pyproject.toml", "README.md"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / ".env").write_text("REGIEBOT_SECRET_KEY=geheim\n")
    (tmp_path / "deploy" / "requirements.lock").write_text("")
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "cli.py").write_text("")
    listing = context_listing(tmp_path)
    assert "deploy/.env" not in listing
    assert {"deploy/requirements.lock", "bot/cli.py", "pyproject.toml"} <= set(listing)


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_the_dockerfile_copies_only_what_the_context_has_and_never_an_env_file() -> None:
    for word, rest in _instructions():
        if word in ("COPY", "ADD") and "--from=" not in rest:
            *sources, _target = rest.split()
            for source in sources:
                assert ".env" not in source and source not in (".", "deploy", "deploy/")
                assert in_context(source), f"{source} valt buiten de build context"


def test_the_bot_is_pid_1_as_a_non_root_user_and_gets_sigterm() -> None:
    instructions = _instructions()
    final = instructions[max(i for i, (w, _) in enumerate(instructions) if w == "FROM"):]
    entrypoint = next(rest for word, rest in final if word == "ENTRYPOINT")
    assert json.loads(entrypoint) == ["regiebot"]  # exec form: no shell in between
    cmd = next(rest for word, rest in final if word == "CMD")
    assert json.loads(cmd) == ["run"]  # `run` does not migrate; `db upgrade` is a separate one-shot
    assert "sh -c" not in DOCKERFILE.read_text()
    user = next(rest for word, rest in final if word == "USER")
    assert user.split(":")[0] not in ("root", "0")


def test_the_image_listens_on_all_interfaces_checks_its_health_and_has_no_organisation() -> None:
    instructions = _instructions()
    env = " ".join(rest for word, rest in instructions if word == "ENV")
    assert "REGIEBOT_HTTP_HOST=0.0.0.0" in env
    assert "REGIEBOT_CONFIG=/etc/regiebot/regieteam.yaml" in env  # a mount, not the example
    health = next(rest for word, rest in instructions if word == "HEALTHCHECK")
    assert "/healthz" in health
    assert "regieteam.example.yaml" not in DOCKERFILE.read_text()


def test_dependencies_come_from_the_lock_and_the_base_image_is_an_argument() -> None:
    instructions = _instructions()
    assert instructions[0][0] == "ARG" and instructions[0][1].startswith("PYTHON_IMAGE=")
    assert all(rest.startswith("${PYTHON_IMAGE}") for word, rest in instructions if word == "FROM")
    runs = " ".join(rest for word, rest in instructions if word == "RUN")
    assert "--require-hashes" in runs and "deploy/requirements.lock" in runs
    assert "--no-index" in runs  # the project itself is built without fetching anything
