"""Charts as PNG bytes, drawn with matplotlib's non-interactive Agg backend.

Only `matplotlib.figure.Figure` is used (no pyplot): no global state, safe in a worker
thread. Texts come from labels_status.j2. A chart never carries personal data: it shows
counts per month only.

matplotlib (with numpy and Pillow) is imported when the first chart is drawn, not when this
module is imported: a start of the bot does not pay for it (tests/test_lazy_imports.py).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from commands.figures import OUTCOME_GROUPS as OUTCOME_SERIES
from messages.render import renderer

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLOURS = {
    "meldingen": "#4c72b0", "voorkomen": "#55a868", "vertrokken": "#dd8452",
    "uitgezet": "#c44e52", "ingetrokken": "#8c8c8c",
}
WIDTH_INCHES, HEIGHT_INCHES, DPI = 9.0, 4.8, 100
UPRIGHT_LABELS = 6  # more months than this: the month labels are slanted so they never overlap


@dataclass
class MonthFigures:
    """One month: the meldingen filed and the cases closed, per outcome group."""

    label: str
    meldingen: int = 0
    closed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOME_SERIES, 0))

    def add(self, group: str, number: int) -> None:
        if group in self.closed:
            self.closed[group] += number


def month_chart(months: Sequence[MonthFigures]) -> bytes:
    """Per month two bars side by side: meldingen, and the closures stacked by outcome."""
    buffer = io.BytesIO()
    month_figure(months).savefig(buffer, format="png")
    return buffer.getvalue()


def month_figure(months: Sequence[MonthFigures]) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    text = renderer("plain").label
    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(months)))
    width = 0.38
    axes.bar([p - width / 2 for p in positions], [m.meldingen for m in months], width,
             label=text("grafiek.meldingen"), color=COLOURS["meldingen"])
    bottom = [0] * len(months)
    for series in OUTCOME_SERIES:
        values = [m.closed[series] for m in months]
        axes.bar([p + width / 2 for p in positions], values, width, bottom=bottom,
                 label=text(f"grafiek.{series}"), color=COLOURS[series])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    slanted = len(months) > UPRIGHT_LABELS
    axes.set_xticks(positions, [m.label for m in months], rotation=45 if slanted else 0,
                    ha="right" if slanted else "center", rotation_mode="anchor")
    axes.set_title(text("grafiek.titel"))
    axes.set_ylabel(text("grafiek.as_aantal"))
    axes.set_xlabel(text("grafiek.as_maand"))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return figure
