"""Migration 0008: stored reminder kinds become Dutch, with the keys built from them, and the
downgrade gives the English kinds back. A reminder synced after the upgrade finds its row
again (same dedupe_key), so nothing is sent twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from store.db import downgrade, make_sync_engine, upgrade

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BEFORE = [  # (id, dedupe_key, kind, payload) as the bot stored them before
    (1, "urgent:7:2026-12-04:0:m:carla", "urgent",
     {"series": "urgent:7:2026-12-04", "n": 0, "datum": "2026-12-04", "soort": "zitting"}),
    (2, "urgent:7:2026-12-04:0:m:carla:uitgesteld:2026-12-01", "urgent",
     {"series": "urgent:7:2026-12-04", "n": 0, "soort": "ontruiming", "uitgesteld": True}),
    (3, "ontruiming:7:2026-12-30:0:m:dirk", "eviction_near",
     {"series": "ontruiming:7:2026-12-30", "n": 0, "datum": "2026-12-30"}),
    (4, "escalation:9:m:joost", "escalation",
     {"of": 9, "series": "mbz:7:3", "soort": "mbz", "werkdagen": 2}),
    (5, "delivery_failed:1:m:joost", "delivery_failed",
     {"of": 1, "soort": "urgent", "pogingen": 6, "bestemming": "Carla"}),
    (6, "termijn:7:2026-12-22:1:m:dirk", "termijn",
     {"series": "termijn:7:2026-12-22", "n": 1, "termijn": "2026-12-22", "te_laat": 0}),
]
AFTER = {
    1: ("spoed:7:2026-12-04:0:m:carla", "spoed",
        {"series": "spoed:7:2026-12-04", "n": 0, "datum": "2026-12-04", "soort": "zitting"}),
    2: ("spoed:7:2026-12-04:0:m:carla:uitgesteld:2026-12-01", "spoed",
        {"series": "spoed:7:2026-12-04", "n": 0, "soort": "ontruiming", "uitgesteld": True}),
    3: ("ontruiming:7:2026-12-30:0:m:dirk", "ontruiming_nabij", BEFORE[2][3]),
    4: ("escalatie:9:m:joost", "escalatie", BEFORE[3][3]),
    5: ("bezorging_mislukt:1:m:joost", "bezorging_mislukt",
        {"of": 1, "soort": "spoed", "pogingen": 6, "bestemming": "Carla"}),
    6: (BEFORE[5][1], "termijn", BEFORE[5][3]),
}


def _rows(url: str) -> dict[int, tuple[str, str, dict[str, Any]]]:
    engine = make_sync_engine(url)
    with engine.connect() as connection:
        found = connection.execute(text("SELECT id, dedupe_key, kind, payload FROM reminders"))
        rows = {row[0]: (row[1], row[2], row[3] if isinstance(row[3], dict)
                         else json.loads(row[3])) for row in found}
    engine.dispose()
    return rows


def test_kinds_become_dutch_and_come_back_on_downgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/kinds.db"
    upgrade(url, "0005")
    engine = make_sync_engine(url)
    with engine.begin() as connection:
        for row_id, key, kind, payload in BEFORE:
            connection.execute(text(
                "INSERT INTO reminders (id, dedupe_key, kind, due_at, payload, late, attempts) "
                "VALUES (:id, :key, :kind, :at, :payload, :no, 0)"),
                {"id": row_id, "key": key, "kind": kind, "at": AT,
                 "payload": json.dumps(payload), "no": False})
    engine.dispose()

    upgrade(url, "0008")
    assert _rows(url) == AFTER

    downgrade(url, "0005")
    assert _rows(url) == {row_id: (key, kind, payload) for row_id, key, kind, payload in BEFORE}
