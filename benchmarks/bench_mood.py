"""/mood with 1,000 mood entries: time to the summary and the PNG chart.

What is measured (p50 / p99 / max over RUNS runs, one process, warm unless said otherwise):
  summary only        both windows (4 and 12 weeks): storage reads + arithmetic
  chart only          our renderer (matplotlib object API, Agg, worker thread)
  summary + chart     what the /mood handler computes before sending
  /mood end to end    the real Application, process_update -> sendPhoto recorded (no network)
Baselines measured in the same run:
  pyplot chart        the usual recipe: pyplot figure per call, same content, plt.close after
  cold first chart    a fresh process: import matplotlib + font cache + first draw (what the
                      start-up warm-up takes off the first /mood)

Run: `.venv/bin/python benchmarks/bench_mood.py [runs]` or `make bench`.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from supportbot.clock import FakeClock  # noqa: E402
from supportbot.config import DEFAULT_MESSAGES_DIR  # noqa: E402
from supportbot.content.strings import Strings  # noqa: E402
from supportbot.services import chart  # noqa: E402
from supportbot.services.journal import JournalService, MoodSummary  # noqa: E402
from supportbot.services.profile import Defaults, ProfileService  # noqa: E402
from supportbot.storage.crypto import TextCipher, new_key  # noqa: E402
from supportbot.storage.sqlite import SqliteStorage  # noqa: E402

ENTRIES = 1000
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 40
USER = 4242
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LABELS = chart.ChartLabels(
    "Your mood, last 12 weeks",
    "Mood (1 = low, 5 = good)",
    "entries",
    "weekly average",
    "session day",
)


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": p99 * 1000,
        "max_ms": ordered[-1] * 1000,
        "runs": len(ordered),
    }


async def _time(fn: Callable[[], Awaitable[Any]], runs: int) -> dict[str, float]:
    await fn()  # one untimed run
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return _stats(samples)


def _pyplot_chart(summary: MoodSummary) -> bytes:
    """The common recipe: pyplot state machine, a new figure per call, closed after."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(chart.WIDTH_IN, chart.HEIGHT_IN), dpi=chart.DPI)
    for i, start in enumerate(summary.session_starts):
        ax.axvspan(
            start,
            start + timedelta(days=1),
            color=chart.SESSION_COLOR,
            alpha=0.28,
            label="session day" if i == 0 else None,
        )
    ax.scatter(
        [p.at for p in summary.points],
        [p.score for p in summary.points],
        s=22,
        alpha=0.35,
        label="entries",
    )
    week = timedelta(weeks=1)
    weekly = [(summary.start + week * i + week / 2, m) for i, m in enumerate(summary.weekly) if m]
    ax.plot(
        [x for x, _ in weekly],
        [y for _, y in weekly],
        linewidth=2.6,
        marker="o",
        label="weekly average",
    )
    ax.set_ylim(0.5, 5.5)
    ax.set_title(LABELS.title)
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _cold_first_chart() -> float:
    code = (
        "import time; t = time.perf_counter();"
        "from supportbot.services.chart import warm_up; warm_up();"
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


async def _seed(storage: SqliteStorage) -> None:
    rnd = random.Random(6)
    await storage.ensure_user(USER, USER, "en", "ES", "Europe/Madrid")
    await storage.update_user(USER, consent=True)
    await storage.set_session(USER, 2, 17 * 60)
    for _ in range(ENTRIES):
        at = NOW - timedelta(minutes=rnd.randint(1, 12 * 7 * 24 * 60 - 1))
        await storage.add_mood(USER, rnd.randint(1, 5), at)


async def _end_to_end(db_dir: Path) -> dict[str, float] | str:
    """The real /mood through Application.process_update (needs the test kit and the full app)."""
    try:
        from supportbot.app import build_application
        from tests.handlers.conftest import make_settings
        from tests.kit.harness import running_app
        from tests.kit.recording import RecordingRequest
        from tests.kit.updates import Updates
    except ImportError as exc:
        return f"skipped ({exc.__class__.__name__}: {exc})"
    rec = RecordingRequest()
    app = build_application(make_settings(db_dir), request=rec, clock=FakeClock(NOW))
    async with running_app(app) as running:
        storage = running.bot_data["deps"].storage
        await _seed(storage)
        updates = Updates(running.bot)

        async def once() -> None:
            before = len(rec.sent("sendPhoto"))
            await running.process_update(updates.command(USER, "/mood"))
            assert len(rec.sent("sendPhoto")) == before + 1

        return await _time(once, RUNS)


async def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        storage = SqliteStorage(Path(tmp) / "bench.db", TextCipher.from_keys(new_key()))
        await storage.open()
        strings = Strings.load(DEFAULT_MESSAGES_DIR, "en")
        clock = FakeClock(NOW)
        profile = ProfileService(storage, strings.languages, Defaults("en", None, "UTC"), clock)
        service = JournalService(storage, profile, clock, strings)
        await _seed(storage)
        chart.warm_up()

        summary12 = await service.mood(USER, 12)
        assert summary12.count == ENTRIES

        async def summary_only() -> None:
            await service.mood(USER, 4)
            await service.mood(USER, 12)

        async def chart_only() -> None:
            await chart.render_png_async(summary12, LABELS, "en")

        async def both() -> None:
            user = await profile.get(USER)
            await service.mood(USER, 4, user)
            summary = await service.mood(USER, 12, user)
            await chart.render_png_async(summary, LABELS, "en")

        async def pyplot_baseline() -> None:
            await asyncio.to_thread(_pyplot_chart, summary12)

        results: dict[str, Any] = {
            "entries": ENTRIES,
            "summary only": await _time(summary_only, RUNS),
            "chart only": await _time(chart_only, RUNS),
            "summary + chart": await _time(both, RUNS),
            "baseline: pyplot chart": await _time(pyplot_baseline, RUNS),
        }
        png = await chart.render_png_async(summary12, LABELS, "en")
        results["png_bytes"] = len(png)
        await storage.close()
        results["/mood end to end"] = await _end_to_end(Path(tmp) / "e2e")
    cold = [_cold_first_chart() for _ in range(3)]
    results["baseline: cold first chart"] = _stats(cold)
    return results


def main() -> dict[str, Any]:
    results = asyncio.run(run())
    print(f"/mood with {ENTRIES} mood entries over 12 weeks; {RUNS} runs per row")
    print(f"{'what':<30} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'runs':>5}")
    for name, value in results.items():
        if isinstance(value, dict):
            print(
                f"{name:<30} {value['p50_ms']:>9.1f} {value['p99_ms']:>9.1f}"
                f" {value['max_ms']:>9.1f} {value['runs']:>5}"
            )
        elif isinstance(value, str):
            print(f"{name:<30} {value}")
    print(f"PNG size: {results['png_bytes'] / 1024:.0f} KiB")
    e2e = results["/mood end to end"]
    target = e2e if isinstance(e2e, dict) else results["summary + chart"]
    verdict = "under" if target["p99_ms"] < 1000 else "OVER"
    print(f"target: /mood under 1 s at p99 -> {verdict} ({target['p99_ms']:.0f} ms)")
    return results


if __name__ == "__main__":
    main()
