"""`/rapport` files: the chart is a valid PNG of sensible size, the CSV opens with the csv
module and has one row per case; neither carries personal data."""

from __future__ import annotations

import csv
import io
import itertools
import math
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from commands.context import Services
from commands.rapport import CSV_COLUMNS, rapport
from commands.replies import Result
from commands.text import run_text
from messages.charts import MonthFigures, month_figure
from messages.files import attachments
from messages.render import renderer
from tests.status_builders import TENANT, no_personal_data
from tests.test_rapport_figures import TOT, VAN, build_period_cases, member

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(content: bytes) -> tuple[int, int]:
    assert content[:8] == PNG_SIGNATURE
    assert content[12:16] == b"IHDR"
    width, height = struct.unpack(">II", content[16:24])
    return width, height


async def test_chart_is_a_sensible_png(services: Services) -> None:
    await build_period_cases(services)
    result = await rapport(services, member(services, "joost"), VAN, TOT)
    chart = next(f for f in await attachments(result.files) if f.mime == "image/png")
    assert chart.filename == "rapport_alle_2026-06-01_2026-10-31.png"
    width, height = png_size(chart.content)
    assert 600 <= width <= 2000 and 300 <= height <= 1200
    assert 5_000 < len(chart.content) < 1_000_000
    assert chart.content.endswith(b"IEND\xaeB`\x82")
    assert no_personal_data(chart.content)
    assert chart.title


async def test_csv_has_one_row_per_case_in_the_period(services: Services) -> None:
    ref = await build_period_cases(services)
    result = await rapport(services, member(services, "joost"), VAN, TOT, export=True)
    export = next(f for f in await attachments(result.files) if f.mime == "text/csv")
    text = export.content.decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    # filed, decided or closed in the period: A B C D E G H I (not F: 1 Nov; not J: 2025)
    expected = {ref[name] for name in "abcdeghi"}
    assert [r["referentie"] for r in rows if r["referentie"] in expected] == [
        r["referentie"] for r in rows]
    assert {r["referentie"] for r in rows} == expected
    assert len(rows) == len(expected) == result.value["casussen_in_export"]
    by_ref = {r["referentie"]: r for r in rows}
    b = by_ref[ref["b"]]
    assert (b["besloten_op"], b["dagen_melding_besluit"], b["dagen_besluit_sluiting"]) == (
        "2026-06-30", "15", "60")
    c = by_ref[ref["c"]]
    assert (c["uitkomstgroep"], c["dagen_melding_sluiting"]) == ("ingetrokken", "")
    g = by_ref[ref["g"]]
    assert (g["gemeld_op"], g["gemeld_in_periode"], g["huishouden"]) == (
        "2026-06-01", "ja", "gezin_met_minderjarige_kinderen;multiprobleem")
    d = by_ref[ref["d"]]
    assert (d["gemeld_in_periode"], d["gesloten_in_periode"]) == ("nee", "ja")
    # the CSV agrees with the report
    assert sum(r["gemeld_in_periode"] == "ja" for r in rows) == result.value["totaal"]["meldingen"]
    assert no_personal_data(text)
    assert all(value not in text for value in TENANT.values())


async def test_empty_period_still_gives_files(services: Services) -> None:
    result = await rapport(services, member(services, "joost"), "01-01-2024", "31-12-2024",
                           export=True)
    assert result.value["totaal"]["meldingen"] == 0
    assert result.value["totaal"]["doorlooptijden"]["melding_sluiting"]["mediaan"] is None
    chart, export = await attachments(result.files)
    assert png_size(chart.content)[0] > 0
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8"), newline="")))
    assert rows == [list(CSV_COLUMNS)]


async def test_a_chairs_report_does_not_overwrite_the_coordinators(services: Services) -> None:
    await build_period_cases(services)
    everything = await rapport(services, member(services, "joost"), VAN, TOT, export=True)
    oost = await rapport(services, member(services, "carla"), VAN, TOT, export=True)
    names = {f.filename for f in everything.files}
    assert names.isdisjoint({f.filename for f in oost.files})
    assert {f.filename for f in oost.files} == {"rapport_oost_2026-06-01_2026-10-31.png",
                                               "rapport_oost_2026-06-01_2026-10-31.csv"}


async def test_the_case_rows_come_only_when_asked(services: Services) -> None:
    await build_period_cases(services)
    joost = member(services, "joost")
    result = await rapport(services, joost, VAN, TOT)
    assert [f.filename for f in result.files] == ["rapport_alle_2026-06-01_2026-10-31.png"]
    said = renderer("plain").render(result.replies[0])
    assert f"/rapport {VAN} {TOT} csv" in said
    asked = await run_text(services, joost, "rapport", [*VAN.split(), *TOT.split(), "CSV"],
                           renderer("plain"))
    assert isinstance(asked, Result)
    assert [f.mime for f in await attachments(asked.files)] == ["image/png", "text/csv"]


@pytest.mark.parametrize("count", [3, 6, 7, 12, 24])
def test_month_labels_never_overlap(count: int) -> None:
    months = [MonthFigures(f"{name} 2026", meldingen=n) for n, name in
              zip(range(count), ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep",
                                 "okt", "nov", "dec"] * 2, strict=False)]
    figure = month_figure(months)
    figure.canvas.draw()
    draw = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    labels = figure.axes[0].get_xticklabels()
    assert len(labels) == count
    extents = [label.get_window_extent(draw) for label in labels]
    rotation = labels[0].get_rotation()
    if rotation == 0:
        assert all(a.x1 < b.x0 for a, b in itertools.pairwise(extents)), "labels overlap"
    else:  # slanted: the distance across the slant must exceed the text's height
        size = labels[0].get_fontsize() * figure.dpi / 72
        step = (extents[-1].x1 - extents[0].x1) / max(1, count - 1)
        assert step * math.sin(math.radians(rotation)) > size * 1.1


CHART_IN_A_FRESH_INTERPRETER = """
import asyncio, os, sys
from datetime import date
from commands.figures import MonthChart, MonthCounts
from commands.replies import FileToMake
from messages.files import attachments
chart = FileToMake("grafiek.png", MonthChart([MonthCounts(date(2026, 6, 1), 4)]), "grafiek.titel")
made, = asyncio.run(attachments([chart]))
assert made.content.startswith(b"\\x89PNG"), made.content[:8]
print("MATPLOTLIB_HERE=" + str("matplotlib" in sys.modules))
"""


def test_the_chart_is_drawn_in_a_process_of_its_own() -> None:
    """matplotlib holds the interpreter while it draws: the bot's own process never loads it,
    so its event loop keeps answering while a report's chart is made."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", CHART_IN_A_FRESH_INTERPRETER], cwd=root,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "MATPLOTLIB_HERE=False" in done.stdout
