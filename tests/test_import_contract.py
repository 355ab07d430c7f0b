"""The imports point inward (`make lint` runs `lint-imports` with the contracts in
pyproject.toml): the contracts hold for the code as it is, and a use case that imports the
edge or a platform library breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "commands", "store", "messages")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"lint-imports is not installed next to {sys.executable}: "
                    "pip install -e '.[dev]'")
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_the_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """The four packages and the contracts, copied to a scratch directory."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.j2"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(("bad_import", "broken"), [
    ("from bot.settings import Settings", "bot → commands → store"),
    ("import slack_sdk", "commands and store import no platform library"),
    ("from messages.render import renderer", "commands and store import no platform library"),
])
def test_a_use_case_that_imports_the_edge_breaks_the_contract(
    tree_copy: Path, bad_import: str, broken: str
) -> None:
    (tree_copy / "commands" / "leak.py").write_text(
        f'"""A use case that reaches outward."""\n\n{bad_import}\n', encoding="utf-8")
    result = lint_imports(tree_copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{broken}" in result.stdout
    assert "commands.leak" in result.stdout
    assert "BROKEN" in result.stdout


@pytest.mark.parametrize("bad_import", ["from commands.status import status_overview",
                                        "from store.models import Case",
                                        "from bot.settings import Settings"])
def test_a_renderer_that_reaches_past_the_replies_breaks_the_contract(
    tree_copy: Path, bad_import: str
) -> None:
    (tree_copy / "messages" / "leak.py").write_text(
        f'"""A renderer that reaches past the neutral replies."""\n\n{bad_import}\n',
        encoding="utf-8")
    result = lint_imports(tree_copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "messages import the neutral replies, never the edge, the store or a use case " \
        "BROKEN" in result.stdout
    assert "messages.leak" in result.stdout


@pytest.mark.parametrize("door", ["slack", "teams"])
def test_a_door_that_queries_a_table_breaks_the_contract(tree_copy: Path, door: str) -> None:
    (tree_copy / "bot" / door / "leak.py").write_text(
        '"""A door that queries the store itself."""\n\nfrom store.models import Case\n',
        encoding="utf-8")
    result = lint_imports(tree_copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the doors (Slack, Telegram, Teams, console) call commands/, never a table " \
        "BROKEN" in result.stdout


def test_the_store_importing_a_use_case_breaks_the_contract(tree_copy: Path) -> None:
    models = tree_copy / "store" / "models.py"
    models.write_text(models.read_text(encoding="utf-8")
                      + "\nfrom commands.words import Phase  # noqa: E402\n", encoding="utf-8")
    result = lint_imports(tree_copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "store imports nothing of the project BROKEN" in result.stdout
