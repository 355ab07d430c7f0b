"""Every reminder message renders in every format, names the reference, and every button has
a label. No personal data of the household appears."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from commands.context import Services
from commands.reminders import TEMPLATES, reminder_message
from messages.render import renderer
from store.models import Reminder
from tests.reminders_support import SECRETS, new_case

PAYLOADS: dict[str, tuple[dict[str, Any], str | None, str | None]] = {
    "termijn": ({"termijn": "2026-12-22", "te_laat": 2, "n": 3}, None, "carla"),
    "terugkoppeling": ({"datum": "2026-12-22", "weken": 4}, None, "dirk"),
    "mbz": ({"sinds": "2026-11-24", "n": 1}, "mbz", None),
    "jeugdbescherming": ({"sinds": "2026-11-24"}, "jbg", None),
    "spoed": ({"datum": "2026-12-04", "soort": "zitting"}, None, "carla"),
    "ontruiming_nabij": ({"datum": "2026-12-30"}, None, "dirk"),
    "escalatie": ({"of": 1, "soort": "mbz", "werkdagen": 2, "verstuurd": "2026-11-24",
                    "bestemming": "Meldpunt Bijzondere Zorg"}, None, "joost"),
    "nazorg": ({"maanden": 6, "datum": "2027-05-24"}, "talis", None),
    "bezorging_mislukt": ({"of": 1, "soort": "termijn", "pogingen": 6,
                         "bestemming": "Buurtteam Nijmegen"}, None, "joost"),
}


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_each_kind_renders_in_every_format(services: Services) -> None:
    assert set(PAYLOADS) == set(TEMPLATES)
    case = await new_case(services)
    for kind, (payload, partner, member_id) in PAYLOADS.items():
        reminder = Reminder(id=7, kind=kind, case_id=case.id, target_partner_id=partner,
                            target_member_id=member_id, due_at=datetime.now(UTC),
                            payload={"series": f"{kind}:x", "n": 0, **payload})
        message = reminder_message(services, reminder, case)
        for fmt in ("plain", "mrkdwn", "html"):
            text = renderer(fmt).render(message)
            assert case.reference in text, (kind, fmt)
            assert not any(secret in text for secret in SECRETS), (kind, text)
        for button in message.actions:
            assert renderer("plain").label(button.label) != button.label, button
            assert len(f"{button.name}:{button.value}".encode()) <= 64


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_row_without_payload_still_renders(services: Services) -> None:
    case = await new_case(services)
    for kind in TEMPLATES:
        reminder = Reminder(id=8, kind=kind, case_id=case.id, target_member_id="joost",
                            due_at=datetime.now(UTC), payload={})
        assert case.reference in renderer("plain").render(reminder_message(services, reminder, case))
