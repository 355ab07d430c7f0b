"""deploy/regiebot.service: hardened to at most MEDIUM in `systemd-analyze security` (it is
at 1.3 "OK" with systemd 252), waits for the network and PostgreSQL, keeps its state private."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "deploy" / "regiebot.service"
MEDIUM = 6.9  # systemd: up to 6.9 is MEDIUM, above that EXPOSED or UNSAFE


def _unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze ontbreekt")
def test_systemd_analyze_security_rates_it_at_most_medium() -> None:
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(UNIT)],
                            capture_output=True, text=True, check=False, timeout=120)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout[-2000:] + result.stderr
    assert float(found.group(1)) <= MEDIUM, result.stdout


def test_the_unit_waits_for_the_network_and_postgresql_and_keeps_state_private() -> None:
    unit = _unit()
    assert "network-online.target" in unit["Unit"]["Wants"]
    assert {"network-online.target", "postgresql.service"} <= set(unit["Unit"]["After"].split())
    service = unit["Service"]
    for directive, value in {"UMask": "0077", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
                             "PrivateTmp": "yes", "ProtectHome": "yes", "StateDirectory": "regiebot",
                             "CapabilityBoundingSet": "", "User": "regiebot"}.items():
        assert service[directive] == value, directive
    assert "AF_INET" in service["RestrictAddressFamilies"]
    assert service["ExecStart"].endswith("regiebot run")
