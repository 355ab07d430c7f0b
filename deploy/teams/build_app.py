"""Build the Teams app package: manifest.json with the ids filled in, plus the two icons, in
one zip (var/regiebot-teams.zip). Only the standard library; no network.

    TEAMS_APP_ID=<Application (client) ID> python deploy/teams/build_app.py [uitvoer.zip]

TEAMS_APP_WEBSITE (optional, https) is the address in the manifest's developer links; without
it a placeholder address is used and the script says so.
"""

from __future__ import annotations

import json
import os
import re
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent.parent / "var" / "regiebot-teams.zip"
PLACEHOLDER_WEBSITE = "https://www.example.org/regiebot"
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
FILES = ("color.png", "outline.png")


class BuildError(Exception):
    """Something the person building the package must fix (the message says what)."""


def manifest_text(app_id: str, website: str) -> str:
    if not GUID.match(app_id):
        raise BuildError("TEAMS_APP_ID moet de Application (client) ID uit Entra ID zijn "
                         "(een GUID, zoals 12345678-abcd-…)")
    if not website.startswith("https://"):
        raise BuildError("TEAMS_APP_WEBSITE moet met https:// beginnen")
    text = (HERE / "manifest.json").read_text(encoding="utf-8")
    text = text.replace("{{TEAMS_APP_ID}}", app_id).replace(
        "{{TEAMS_APP_WEBSITE}}", website.rstrip("/"))
    if "{{" in text:
        raise BuildError("manifest.json bevat nog een onbekende {{…}}")
    json.loads(text)  # still valid JSON
    return text


def build(app_id: str, out: Path = DEFAULT_OUT, website: str | None = None) -> Path:
    text = manifest_text(app_id, website or PLACEHOLDER_WEBSITE)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", text)
        for name in FILES:
            package.write(HERE / name, name)
    return out


def main(argv: list[str]) -> int:
    app_id = os.environ.get("TEAMS_APP_ID", "").strip()
    if not app_id:
        print("Zet TEAMS_APP_ID (de Application (client) ID uit Entra ID), bijvoorbeeld:\n"
              "  TEAMS_APP_ID=… make teams-app", file=sys.stderr)
        return 2
    website = os.environ.get("TEAMS_APP_WEBSITE", "").strip() or None
    out = Path(argv[0]) if argv else DEFAULT_OUT
    try:
        made = build(app_id, out, website)
    except BuildError as exc:
        print(exc, file=sys.stderr)
        return 2
    if website is None:
        print(f"Let op: TEAMS_APP_WEBSITE is niet gezet; in het pakket staat {PLACEHOLDER_WEBSITE}.")
    print(f"Teams-app-pakket gemaakt: {made}")
    print("Upload het in Teams: Apps → Apps beheren → Een app uploaden.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
