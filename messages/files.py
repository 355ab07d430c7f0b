"""Files for the acting member, made from a use case's neutral figures and rows: the chart
(PNG) and the CSV export of a report. Every door calls `attachments` on `Result.files` before
it delivers them, so each file is drawn or written in this one place."""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from commands.figures import CaseExport, MonthChart
from commands.replies import Attachment, FileToMake
from messages.charts import MonthFigures, month_chart
from messages.render import renderer


async def attachments(files: Sequence[Attachment | FileToMake]) -> list[Attachment]:
    """The files as bytes, in the same order. A chart is drawn in a process of its own
    (matplotlib holds the interpreter while it draws, which a thread would share with the
    event loop); a CSV is written in a worker thread."""
    return [file if isinstance(file, Attachment) else await _made(file) for file in files]


async def _made(file: FileToMake) -> Attachment:
    if not isinstance(file.content, MonthChart):
        return await asyncio.to_thread(make, file)
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_drawer(), make, file)
    except BrokenProcessPool:  # the drawing process died: start a new one, once
        _forget_drawer()
        return await loop.run_in_executor(_drawer(), make, file)


@functools.cache
def _drawer() -> ProcessPoolExecutor:
    """The one drawing process, started on first use. spawn: a fresh interpreter, never a
    fork of the bot with its threads and connections."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


def _forget_drawer() -> None:
    _drawer().shutdown(wait=False, cancel_futures=True)
    _drawer.cache_clear()


def make(file: FileToMake) -> Attachment:
    title = renderer("plain").label(file.title)
    content = file.content
    if isinstance(content, MonthChart):
        return Attachment(file.filename, chart_png(content), "image/png", title)
    if isinstance(content, CaseExport):
        return Attachment(file.filename, csv_bytes(content), "text/csv", title)
    raise TypeError(f"geen bestand te maken van {type(content).__name__}")


def chart_png(chart: MonthChart) -> bytes:
    """Per month: meldingen, and the closures stacked by outcome group."""
    text = renderer("plain").text
    return month_chart([MonthFigures(text("rapport/maand", maand=month.first), month.meldingen,
                                     dict(month.closed)) for month in chart.months])


def csv_bytes(export: CaseExport) -> bytes:
    """Comma-separated (RFC 4180), UTF-8, header row first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(export.columns)
    writer.writerows(export.rows)
    return buffer.getvalue().encode("utf-8")
