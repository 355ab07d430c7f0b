"""The app manifest matches what the bot listens to."""

from __future__ import annotations

from pathlib import Path

import yaml

from commands.text import COMMANDS

MANIFEST = Path(__file__).resolve().parent.parent / "deploy" / "slack-manifest.yml"


def test_manifest_has_commands_scopes_events_and_socket_mode() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert commands == {"/melding", "/agenda", "/terugkoppeling", "/status", "/regie"}
    assert all(c["url"].endswith("/slack/events") for c in manifest["features"]["slash_commands"])
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= {"commands", "chat:write", "im:write",
                                                               "files:write"}
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    usage = " ".join(c.get("description", "") for c in manifest["features"]["slash_commands"])
    assert all(name in usage for name in ("stem", "besluit", "casemanager", "sluit", "rapport"))
    assert {"stem", "sluit", "rapport", "besluit", "casemanager"} <= set(COMMANDS)


def test_every_message_shortcut_has_a_listener_and_fits_slack() -> None:
    from bot.slack.shortcuts import SHORTCUTS

    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    shortcuts = manifest["features"]["shortcuts"]
    assert {s["callback_id"] for s in shortcuts} == set(SHORTCUTS)
    assert len({s["callback_id"] for s in shortcuts}) == len(shortcuts)
    for shortcut in shortcuts:
        assert shortcut["type"] == "message"
        assert 0 < len(shortcut["name"]) <= 24, shortcut
        assert 0 < len(shortcut["description"]) <= 80, shortcut
        assert len(shortcut["callback_id"]) <= 255
