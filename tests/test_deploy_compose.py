"""deploy/compose.yaml: valid per the Compose Specification, secrets without defaults, the bot
waiting for a healthy database and a finished migration, ports on 127.0.0.1 only.

`docker compose config` is used when the compose plugin is installed; otherwise the file is
interpolated as compose does and validated against the compose-spec JSON schema vendored in
tests/data/ (from check-jsonschema 0.39.0, Apache-2.0, see tests/data/LICENSE.compose-spec).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "deploy" / "compose.yaml"
SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"
ENV = {
    "POSTGRES_PASSWORD": "wachtwoord", "REGIEBOT_SECRET_KEY": "sleutel",
    "REGIEBOT_ORGANISATION_FILE": "/srv/regiebot/regieteam.yaml", "REGIEBOT_DOMAIN": "bot.example.nl",
}
VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|:\?|-|\?)(?P<arg>[^}]*))?\}")
REQUIRED = ("POSTGRES_PASSWORD", "REGIEBOT_SECRET_KEY", "REGIEBOT_ORGANISATION_FILE")


class Missing(KeyError):
    pass


def _interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's interpolation: ${X}, ${X:-default}, ${X:?error}, $$."""
    if isinstance(value, dict):
        return {key: _interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(found: re.Match[str]) -> str:
        if found.group(0) == "$$":
            return "$"
        name, op, arg = found["name"], found["op"], found["arg"]
        given = env.get(name)
        if op in (":?", "?") and not given:
            raise Missing(f"{name}: {arg}")
        if op in (":-", "-") and not given:
            return arg
        return given or ""

    return VARIABLE.sub(replace, value)


def _document(env: dict[str, str], profiles: bool = True) -> dict[str, Any]:
    raw = yaml.safe_load(COMPOSE.read_text())  # PyYAML resolves the `<<` merge keys
    services = raw["services"]
    if not profiles:
        raw["services"] = {name: s for name, s in services.items() if not s.get("profiles")}
    document: dict[str, Any] = _interpolate(raw, env)
    return document


def test_compose_file_is_valid_per_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(_document(ENV))


@pytest.mark.skipif(not shutil.which("docker"), reason="docker ontbreekt")
def test_docker_compose_config_accepts_it() -> None:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("de docker compose-plugin is niet geïnstalleerd")
    result = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "--profile", "https", "config",
                             "--quiet"], env={**os.environ, **ENV}, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()


@pytest.mark.parametrize("name", REQUIRED)
def test_every_secret_and_the_organisation_file_are_required_without_default(name: str) -> None:
    with pytest.raises(Missing, match=name):
        _document({k: v for k, v in ENV.items() if k != name}, profiles=False)


def test_no_password_or_token_is_written_in_the_file() -> None:
    document = _document(ENV)
    for service in document["services"].values():
        environment = service.get("environment", {})
        for key, value in environment.items():
            if any(word in key for word in ("PASSWORD", "TOKEN", "SECRET")) and value:
                assert value in ENV.values(), f"{key} heeft een vaste waarde in compose.yaml"


def test_the_database_is_healthchecked_and_restarts() -> None:
    db = _document(ENV)["services"]["db"]
    assert "pg_isready" in db["healthcheck"]["test"]
    assert db["restart"] in ("always", "unless-stopped")


def test_the_bot_waits_for_a_healthy_database_and_a_finished_migration() -> None:
    services = _document(ENV)["services"]
    bot, migrate = services["bot"], services["migrate"]
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert migrate["command"] == ["db", "upgrade"] and migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["command"] == ["run"]


def test_ports_are_on_localhost_except_the_tls_proxy() -> None:
    services = _document(ENV)["services"]
    for name, service in services.items():
        for port in service.get("ports", []):
            if name == "proxy":
                assert port in ("80:80", "443:443")
            else:
                assert str(port).startswith("127.0.0.1:"), f"{name} publiceert {port} op elk adres"


def test_the_organisation_file_is_mounted_read_only() -> None:
    for name in ("bot", "migrate"):
        service = _document(ENV)["services"][name]
        mount = next(v for v in service["volumes"] if v["target"] == "/etc/regiebot/regieteam.yaml")
        assert mount["read_only"] is True and mount["source"] == ENV["REGIEBOT_ORGANISATION_FILE"]
        assert service["environment"]["REGIEBOT_CONFIG"] == "/etc/regiebot/regieteam.yaml"


def test_a_backup_service_dumps_in_custom_format_with_retention() -> None:
    backup = _document(ENV)["services"]["backup"]
    assert backup["restart"] == "unless-stopped"
    assert {"BACKUP_KEEP_DAYS", "BACKUP_EVERY_SECONDS"} <= set(backup["environment"])
    script = (ROOT / "deploy" / "backup.sh").read_text()
    assert "pg_dump --format=custom" in script and "-mtime" in script
