"""The /mood chart: a PNG of scores and weekly averages, session days shaded.

Matplotlib's object API on the Agg backend (set before anything else of matplotlib loads; pyplot is
never imported, so no global figure state is shared between threads). Rendering is CPU work of
~0.1 s, so `render_png_async` runs it in a worker thread: the event loop, and with it every crisis
reply, keeps going while a chart is drawn. The chart holds numbers, dates and the bot's own labels
only, never client text.
"""

from __future__ import annotations

import asyncio
import io
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from supportbot.services.journal import MoodSummary, summarise

#: Matplotlib's font cache and text layout are not documented as thread-safe: one render at a time.
_LOCK = threading.Lock()
_MPL: dict[str, Any] = {}

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.4, 120
MARGINS = {"left": 0.085, "right": 0.965, "top": 0.9, "bottom": 0.2}
FONT_SIZE = 13
POINT_COLOR = "#4c72b0"
LINE_COLOR = "#1b3f6b"
SESSION_COLOR = "#f2b134"


@dataclass(frozen=True, slots=True)
class ChartLabels:
    """The bot's own words on the chart, from messages/ (never client text)."""

    title: str
    y_label: str
    entries: str
    weekly: str
    session: str


def _matplotlib() -> dict[str, Any]:
    """Import matplotlib once, Agg first (callers hold _LOCK)."""
    if not _MPL:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import dates as mdates
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        _MPL.update(Figure=Figure, Canvas=FigureCanvasAgg, dates=mdates)
    return _MPL


def _local(at: datetime, zone: ZoneInfo) -> datetime:
    """Naive local time: the chart's x axis is the client's calendar."""
    return at.astimezone(zone).replace(tzinfo=None)


def _ticks(start: datetime, end: datetime, weeks: int) -> list[datetime]:
    """Local midnights at week boundaries (every second one on a 12-week chart)."""
    step = 1 if weeks <= 6 else 2
    first = datetime.combine(start.date(), datetime.min.time())
    out = []
    day = first
    while day <= end:
        out.append(day)
        day += timedelta(weeks=step)
    return out


def _tick_label(day: date, lang: str) -> str:
    from babel.dates import format_date

    return str(format_date(day, "d MMM", locale=lang))


def render_png(summary: MoodSummary, labels: ChartLabels, lang: str) -> bytes:
    """Draw the chart for one window (blocking; call `render_png_async` from the event loop)."""
    zone = ZoneInfo(summary.timezone)
    start, end = _local(summary.start, zone), _local(summary.end, zone)
    with _LOCK:
        mpl = _matplotlib()
        num = mpl["dates"].date2num
        fig = mpl["Figure"](figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
        mpl["Canvas"](fig)
        ax = fig.add_subplot()

        for i, session in enumerate(summary.session_starts):
            day = datetime.combine(_local(session, zone).date(), datetime.min.time())
            ax.axvspan(
                num(day),
                num(day + timedelta(days=1)),
                color=SESSION_COLOR,
                alpha=0.28,
                linewidth=0,
                zorder=0,
                label=labels.session if i == 0 else None,
            )

        if summary.points:
            xs = num([_local(p.at, zone) for p in summary.points])
            ys = [p.score for p in summary.points]
            ax.scatter(
                xs,
                ys,
                s=22,
                color=POINT_COLOR,
                alpha=0.35,
                linewidths=0,
                zorder=2,
                label=labels.entries,
            )

        week = timedelta(weeks=1)
        weekly = [
            (num(start + week * i + week / 2), mean)
            for i, mean in enumerate(summary.weekly)
            if mean is not None
        ]
        if weekly:
            ax.plot(
                [x for x, _ in weekly],
                [y for _, y in weekly],
                color=LINE_COLOR,
                linewidth=2.6,
                marker="o",
                markersize=6,
                zorder=3,
                label=labels.weekly,
            )

        ticks = _ticks(start, end, summary.weeks)
        ax.set_xticks([num(t) for t in ticks], [_tick_label(t.date(), lang) for t in ticks])
        ax.set_xlim(num(start), num(end))
        ax.set_ylim(0.5, 5.5)
        ax.set_yticks([1, 2, 3, 4, 5])
        ax.tick_params(labelsize=FONT_SIZE - 1)
        ax.set_ylabel(labels.y_label, fontsize=FONT_SIZE)
        ax.set_title(labels.title, fontsize=FONT_SIZE + 2, loc="left", pad=10)
        ax.grid(axis="y", color="#dddddd", linewidth=0.8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if summary.points or summary.session_starts:
            ax.legend(
                loc="upper center",
                bbox_to_anchor=(0.5, -0.12),
                ncol=3,
                frameon=False,
                fontsize=FONT_SIZE - 2,
            )
        # Fixed margins instead of tight_layout(): the size and fonts never change, and measuring
        # every label again cost a quarter of the render time.
        fig.subplots_adjust(**MARGINS)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI)
        fig.clear()
    return buffer.getvalue()


async def render_png_async(summary: MoodSummary, labels: ChartLabels, lang: str) -> bytes:
    """Render in a worker thread so the event loop never waits on matplotlib."""
    return await asyncio.to_thread(render_png, summary, labels, lang)


def warm_up() -> None:
    """Load matplotlib and its fonts ahead of the first /mood (the first draw pays ~0.5 s)."""
    now = datetime(2024, 1, 1, tzinfo=UTC)
    empty = summarise([], now=now, weeks=4, session=None, timezone="UTC")
    render_png(empty, ChartLabels("", "", "", "", ""), "en")
