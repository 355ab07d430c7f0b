"""The Teams app package: the manifest (schema v1.17, bot id from TEAMS_APP_ID, scopes team and
personal, commands that the bot knows, within Teams' limits) and the icons, and the script
behind `make teams-app` that zips them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from PIL import Image

from commands.text import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "deploy" / "teams"
SCRIPT = PACKAGE / "build_app.py"
APP_ID = "12345678-1234-4234-9234-123456789abc"
REQUIRED = ("$schema", "manifestVersion", "version", "id", "developer", "name", "description",
            "icons", "accentColor")


def manifest() -> dict[str, object]:
    data = json.loads((PACKAGE / "manifest.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_manifest_has_what_teams_requires_and_takes_the_ids_from_a_placeholder() -> None:
    data = manifest()
    assert all(key in data for key in REQUIRED)
    version = str(data["manifestVersion"])
    assert tuple(int(p) for p in version.split(".")) >= (1, 17)
    assert f"/v{version}/MicrosoftTeams.schema.json" in str(data["$schema"])
    assert data["id"] == "{{TEAMS_APP_ID}}"
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(data["version"]))
    assert re.fullmatch(r"#[0-9A-Fa-f]{6}", str(data["accentColor"]))
    developer, name, description = data["developer"], data["name"], data["description"]
    assert isinstance(developer, dict) and isinstance(name, dict) and isinstance(description, dict)
    assert {"name", "websiteUrl", "privacyUrl", "termsOfUseUrl"} <= set(developer)
    assert len(name["short"]) <= 30 and len(name.get("full", "")) <= 100
    assert len(description["short"]) <= 80 and len(description["full"]) <= 4000
    assert data["validDomains"] == []
    [bot] = data["bots"]  # type: ignore[misc]
    assert bot["botId"] == "{{TEAMS_APP_ID}}"
    assert sorted(bot["scopes"]) == ["personal", "team"]


def test_every_command_in_the_manifest_is_a_text_command_of_the_bot_within_teams_limits() -> None:
    [bot] = manifest()["bots"]  # type: ignore[misc]
    lists = bot["commandLists"]
    assert len(lists) <= 3
    assert sorted(scope for entry in lists for scope in entry["scopes"]) == ["personal", "team"]
    for entry in lists:
        assert 1 <= len(entry["commands"]) <= 10
        for command in entry["commands"]:
            assert command["title"] in COMMANDS, command["title"]
            assert len(command["title"]) <= 32 and 0 < len(command["description"]) <= 128
        assert "help" in {c["title"] for c in entry["commands"]}
    team = {c["title"] for c in lists[0]["commands"]}
    assert {"agenda", "stem", "besluit", "casemanager", "status"} <= team
    personal = {c["title"] for c in lists[1]["commands"]}
    assert {"melding", "terugkoppeling", "uitstellen", "gegevens"} <= personal


def test_the_icons_have_the_sizes_teams_asks() -> None:
    icons = manifest()["icons"]
    assert isinstance(icons, dict)
    with Image.open(PACKAGE / icons["color"]) as color:
        assert color.format == "PNG" and color.size == (192, 192)
    with Image.open(PACKAGE / icons["outline"]) as outline:
        assert outline.format == "PNG" and outline.size == (32, 32)
        assert outline.mode == "RGBA"
        # white on transparent: every pixel that shows is white
        pixels = [outline.getpixel((x, y)) for x in range(32) for y in range(32)]
        assert all(p[3] == 0 or p[:3] == (255, 255, 255) for p in pixels)  # type: ignore[index]
        assert any(p[3] == 0 for p in pixels)  # type: ignore[index]


def run_script(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TEAMS_")}
    return subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "app.zip")],
                          env={**clean, **env}, capture_output=True, text=True, check=False,
                          timeout=60)


def test_the_script_builds_the_zip_with_the_ids_filled_in(tmp_path: Path) -> None:
    done = run_script(tmp_path, TEAMS_APP_ID=APP_ID, TEAMS_APP_WEBSITE="https://regie.example.nl/")
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(tmp_path / "app.zip") as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        data = json.loads(package.read("manifest.json"))
    assert data["id"] == APP_ID and data["bots"][0]["botId"] == APP_ID
    assert data["developer"]["privacyUrl"] == "https://regie.example.nl/privacy"
    assert "{{" not in json.dumps(data)


def test_the_script_says_what_is_missing(tmp_path: Path) -> None:
    missing = run_script(tmp_path)
    assert missing.returncode == 2 and "TEAMS_APP_ID" in missing.stderr
    wrong = run_script(tmp_path, TEAMS_APP_ID="geen-guid")
    assert wrong.returncode == 2 and "GUID" in wrong.stderr
    assert not (tmp_path / "app.zip").exists()


def test_the_make_target_runs_the_script() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^\.PHONY:.*\bteams-app\b", makefile, re.MULTILINE)
    assert "deploy/teams/build_app.py var/regiebot-teams.zip" in makefile
