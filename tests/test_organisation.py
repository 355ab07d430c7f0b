"""The organisation file: validated on load, with the line and key of every mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from commands.organisation import OrganisationError, load_organisation, parse_organisation
from tests.conftest import EXAMPLE_ORG

EXAMPLE = EXAMPLE_ORG.read_text()


def test_example_is_a_plausible_nijmegen_setup() -> None:
    org = load_organisation(EXAMPLE_ORG)
    assert {t.id for t in org.regieteams} == {"oost", "west"}
    assert len(org.partners_of_kind("corporatie")) >= 3
    assert [t.id for t in org.regieteams_for_wijk("dukenburg")] == ["west"]
    assert len(org.regieteams_for_wijk("Centrum")) == 2


@pytest.mark.parametrize(("change", "expected"), [
    (("partner: mbz,", "partner: mbzz,"), "regel 34, members[6].partner: partner 'mbzz' staat niet onder partners"),
    (("weekday: dinsdag", "weekday: dinsdg"), "regel 7, regieteams[0].meeting.weekday: 'dinsdg' is geen weekdag"),
    (("kind: meldpunt", "kind: meldpnt"), "partners[5].kind: waarde niet toegestaan"),
    (("id: eva,", "id: dirk,"), "members[5].id: 'dirk' komt twee keer voor"),
    (("roles: [melder], slack_user: U0ANNA", "roles: [baas], slack_user: U0ANNA"), "members[0].roles[0]"),
    (("time: \"10:00\"", "time: \"25:00\""), "regieteams[0].meeting.time"),
    (("    name: Regieteam West\n", "    nam: Regieteam West\n"), "regieteams[1]"),
])
def test_mistakes_name_line_and_key(change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in EXAMPLE
    with pytest.raises(OrganisationError) as caught:
        parse_organisation(EXAMPLE.replace(old, new, 1), "org.yaml")
    assert expected in str(caught.value)


def test_broken_yaml_names_the_line() -> None:
    with pytest.raises(OrganisationError, match=r"org.yaml, regel \d+: dit is geen geldige YAML"):
        parse_organisation(EXAMPLE + "\n  - [x\n", "org.yaml")


def test_single_regieteam_needs_no_team_membership() -> None:
    org = parse_organisation("""
regieteams: [{id: rt, name: Regieteam, meeting: {weekday: dinsdag, time: "10:00"}}]
partners: [{id: c, name: Corp, kind: corporatie}, {id: g, name: Gemeente, kind: gemeente}]
members:
  - {id: m, name: Melder, partner: c, roles: [melder]}
  - {id: v, name: Voorzitter, partner: g, roles: [voorzitter, lid]}
household_categories: [gezin_met_minderjarige_kinderen, kwetsbaar]
""")
    chair = org.member("v")
    assert chair is not None and org.belongs_to(chair, "rt")


def test_config_check_command(tmp_path: Path) -> None:
    good = subprocess.run([sys.executable, "-m", "bot.cli", "config", "check", str(EXAMPLE_ORG)],
                          capture_output=True, text=True, check=False)
    assert good.returncode == 0 and "in orde" in good.stdout
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text(EXAMPLE.replace("partner: mbz,", "partner: mbzz,"))
    bad = subprocess.run([sys.executable, "-m", "bot.cli", "config", "check", str(bad_file)],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "regel 34" in bad.stderr and "mbzz" in bad.stderr
