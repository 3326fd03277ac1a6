"""Load: 500 simulated clients sending mixed traffic to the real bot process, beside an echo bot.

The real `supportbot run` process polls the in-repo fake Bot API (tests/kit/fake_bot_api.py) on
127.0.0.1, exactly as in the end-to-end tests; this script plays 500 clients against it. A client
sends one update, waits for the bot's answer (10 s without one is an error), thinks, and goes again.
The mix per update:
  30 %  commands        /help, /settings, /ground
  25 %  exercise taps   a button of the latest exercise screen the bot showed that client
                        (/ground first if it has none); the answer is answerCallbackQuery
  40 %  free text       ordinary things people write after a session
   5 %  risk messages   each must get the crisis reply (any other answer is an error)
Before the clock starts every client sends /start (unmeasured), so the database holds 500 clients.

Two kinds of window, BENCH_SECONDS of traffic per bot in all (default 60: 20 s + 40 s):
  saturated   no think time: every client has an update waiting at all times. Updates handled a
              second (answers that arrived inside the window) is the bot's capacity; the bot
              process's CPU time per update is printed too (less sensitive to other load).
  paced       think time exponential with mean BENCH_THINK seconds (default 5: 500 clients each
              writing every ~5 s, ~100 updates/s). Reply latency p50 / p99 and crisis-reply p99
              come from here: a saturated queue delays every update alike, crisis or not.
Latency is the fake's arrival time of the bot's answer minus the time the update was queued for
getUpdates (same clock). Errors: no answer within 10 s, a risk message answered without the crisis
reply, a call the fake refused (an edit to identical content from a double tap is counted apart:
the bot handles it on purpose), and any ERROR line in the bot's log. RSS: VmRSS and the peak VmHWM
of the bot process (/proc/<pid>/status) at the end.

Baseline in the same run, on the same harness with the same traffic: tests/kit/echo_bot.py, a
minimal python-telegram-bot echo bot (echoes texts, answers taps; PTB's default of one update at a
time). Both bots run side by side and take turns in BENCH_ROUNDS short windows each, so load from
other programs on the machine falls on both alike.

Goals: at least half the echo bot's throughput; crisis-reply p99 under 300 ms; no errors.

Run: `.venv/bin/python benchmarks/bench_load.py` (env: BENCH_SECONDS, BENCH_CLIENTS, BENCH_THINK,
BENCH_ROUNDS, BENCH_SEED) or `make bench`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.kit.botapi import Call  # noqa: E402
from tests.kit.fake_bot_api import FakeBotAPI  # noqa: E402
from tests.kit.process import BotProcess, bot_env  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", "60"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "500"))
THINK = float(os.environ.get("BENCH_THINK", "5.0"))
SEED = int(os.environ.get("BENCH_SEED", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "4"))
REPLY_TIMEOUT = 10.0
EFFECT_TIMEOUT = 2.0
FIRST_USER = 900_000
GOAL_CRISIS_P99_MS = 300.0

COMMANDS = ("/help", "/settings", "/ground")
FREE_TEXT = (
    "today's session was a lot, I'm tired",
    "we talked about my mother again",
    "I think it went okay actually",
    "not sure what to do with all of this",
    "my therapist asked me to notice my breathing this week",
    "feeling a bit lighter than last week",
    "it was hard to say some things out loud",
    "I keep thinking about what she said",
    "could you remind me what grounding is",
    "thank you",
)
RISK = (
    "I want to kill myself",
    "i don't want to wake up tomorrow",
    "I've been thinking about ending my life",
    "everyone would be better off without me",
    "I want to hurt myself tonight",
)
MIX = (("command", 0.30), ("tap", 0.25), ("text", 0.40), ("risk", 0.05))
TAP_ACTIONS = ("start", "next", "done", "menu", "feel")  # "pace" starts a timer: not a tap to time


def _is_reply(call: Call) -> bool:
    return call.method in ("sendMessage", "editMessageText", "sendPhoto", "sendDocument")


@dataclass
class Waiter:
    """What a client waits for: the answer to its update; for a tap also what the tap changed
    (the edited screen, or a new message), before the client acts again as a person would."""

    kind: str  # command | tap | text | risk
    future: asyncio.Future[Call]
    callback_id: str | None = None
    effect: asyncio.Future[Call] | None = None

    def settled(self) -> bool:
        return self.future.done() and (self.effect is None or self.effect.done())


@dataclass(frozen=True, slots=True)
class Answered:
    kind: str
    pushed: float
    answered: float  # the fake's arrival time of the bot's answer (same clock)
    right: bool  # for a risk message: the answer is the crisis reply


@dataclass
class Stats:
    answered: list[Answered] = field(default_factory=list)
    timeouts: int = 0
    wrong_samples: list[str] = field(default_factory=list)


class LoadFake(FakeBotAPI):
    """The fake Bot API, resolving each simulated client's wait as the bot's answer arrives."""

    def __init__(self, *, every_message_a_screen: bool = False) -> None:
        super().__init__(poll_cap=1.0)
        self.every_message_a_screen = every_message_a_screen
        """For the echo bot, which shows no buttons: any message of it can be tapped (with the
        data of an exercise button), so both bots get the same mix of updates."""
        self.waiting: dict[int, Waiter] = {}
        self.by_callback: dict[str, int] = {}
        self.screens: dict[int, tuple[int, list[str]]] = {}
        """Per client: the latest bot message with exercise buttons (message id, callback data)."""
        self.refused: list[Call] = []
        self.recording = False

    def _record(self, call: Call) -> Call:
        # Keep only what the benchmark needs: 100k+ calls would otherwise pile up in `calls`.
        if call.method == "getUpdates":
            super()._record(call)  # `wait_ready` looks for the first poll
            if len(self.calls) > 1000:
                del self.calls[:500]
        elif not call.ok and call.fault is None:
            self.refused.append(call)
        if call.method == "answerCallbackQuery":
            user = self.by_callback.pop(str(call.params.get("callback_query_id")), None)
            waiter = self.waiting.get(user) if user is not None else None
            if user is not None and waiter is not None and waiter.callback_id is not None:
                self._resolve(user, waiter, waiter.future, call)
            return call
        chat = call.chat_id
        if isinstance(chat, int) and call.ok and _is_reply(call):
            self._remember_screen(chat, call)
            waiter = self.waiting.get(chat)
            if waiter is None:
                return call
            if waiter.effect is not None:  # a tap: its edit, or the message it sent
                self._resolve(chat, waiter, waiter.effect, call)
            elif call.method != "editMessageText":  # a message's answer is a new message
                self._resolve(chat, waiter, waiter.future, call)
        return call

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        pushed = super().push(update)
        if len(self.pushed) > 1000:  # only the recent ones matter here
            del self.pushed[:500]
        return pushed

    def _resolve(self, user: int, waiter: Waiter, future: asyncio.Future[Call], call: Call) -> None:
        if not future.done():
            future.set_result(call)
        if waiter.settled():
            del self.waiting[user]

    def _remember_screen(self, chat: int, call: Call) -> None:
        data = [d for row in call.buttons for _, d in row if d and d.startswith("ex:")]
        data = [d for d in data if d.split(":")[1] in TAP_ACTIONS]
        if self.every_message_a_screen and call.method == "sendMessage":
            data = ["ex:next:five_senses:1"]
        if not data:
            # The remembered screen lost its buttons (e.g. "I feel better" ends the exercise):
            # a client can no longer tap them.
            shown = self.screens.get(chat)
            if shown is not None and shown[0] == call.params.get("message_id"):
                del self.screens[chat]
            return
        if call.method == "sendMessage" and isinstance(call.result, dict):
            message_id = call.result.get("message_id")
        else:
            message_id = call.params.get("message_id")
        if isinstance(message_id, int):
            self.screens[chat] = (message_id, data)


async def ask(
    fake: LoadFake, user: int, kind: str, rng: random.Random
) -> tuple[str, float, Call | None]:
    """Push one update of `kind` for `user`: (kind sent, when, its answer or None on timeout)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Call] = loop.create_future()
    effect: asyncio.Future[Call] | None = None
    callback_id = None
    screen = fake.screens.get(user)
    message = fake.sim.bot_message(user, screen[0]) if kind == "tap" and screen else None
    if kind == "tap" and (screen is None or message is None):
        kind = "command"  # nothing to tap yet: open the exercises first
        update = fake.updates.command(user, "/ground")
    elif kind == "tap":
        assert screen is not None and message is not None
        update = fake.updates.callback(user, rng.choice(screen[1]), message=message)
        callback_id = str(update["callback_query"]["id"])
        fake.by_callback[callback_id] = user
        effect = loop.create_future()
    elif kind == "command":
        update = fake.updates.command(user, rng.choice(COMMANDS))
    elif kind == "risk":
        update = fake.updates.text(user, rng.choice(RISK))
    else:
        update = fake.updates.text(user, rng.choice(FREE_TEXT))
    fake.waiting[user] = Waiter(kind, future, callback_id, effect)
    pushed = time.monotonic()
    fake.push(update)
    try:
        answer = await asyncio.wait_for(future, REPLY_TIMEOUT)
    except TimeoutError:
        fake.waiting.pop(user, None)
        return kind, pushed, None
    if effect is not None:
        with contextlib.suppress(TimeoutError):  # a stale button changes nothing
            await asyncio.wait_for(effect, EFFECT_TIMEOUT)
        fake.waiting.pop(user, None)
    return kind, pushed, answer


async def client(
    fake: LoadFake,
    user: int,
    stats: Stats,
    until: float,
    think: float,
    rng: random.Random,
    crisis_marker: str,
) -> None:
    """One client until `until`: send, wait for the answer, think (exponential, mean `think`)."""
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    await asyncio.sleep(rng.uniform(0, think))  # spread the first sends
    while time.monotonic() < until:
        kind, pushed, call = await ask(fake, user, rng.choices(kinds, weights)[0], rng)
        if call is None:
            stats.timeouts += 1
        else:
            right = kind != "risk" or crisis_marker in (call.text or "")
            stats.answered.append(Answered(kind, pushed, call.time, right))
            if not right:
                stats.wrong_samples.append(f"{call.method}: {(call.text or '')[:40]}")
        if think > 0:
            await asyncio.sleep(
                min(rng.expovariate(1.0 / think), max(0.0, until - time.monotonic()))
            )


Slice = tuple[Stats, float, float]


def summary(slices: list[Slice]) -> dict[str, Any]:
    """Over several windows: throughput counts answers that arrived inside a window; latency
    covers the updates pushed inside one."""
    window = sum(until - started for _, started, until in slices)
    arrived = sum(1 for stats, a, z in slices for one in stats.answered if a <= one.answered <= z)
    inside = [one for stats, _, z in slices for one in stats.answered if one.pushed < z]
    latencies = [a.answered - a.pushed for a in inside]
    crisis = [a.answered - a.pushed for a in inside if a.kind == "risk"]
    kinds = sorted({a.kind for a in inside})
    return {
        "updates": arrived,
        "updates_per_s": arrived / window if window else 0.0,
        "p50_ms": pct(latencies, 0.50),
        "p99_ms": pct(latencies, 0.99),
        "crisis_n": len(crisis),
        "crisis_p50_ms": pct(crisis, 0.50),
        "crisis_p99_ms": pct(crisis, 0.99),
        "p99_ms_by_kind": {
            k: pct([a.answered - a.pushed for a in inside if a.kind == k], 0.99) for k in kinds
        },
        "p99_ms_by_window": [
            pct([a.answered - a.pushed for a in stats.answered if a.pushed < z], 0.99)
            for stats, _, z in slices
        ],
        "timeouts": sum(stats.timeouts for stats, _, _ in slices),
        "wrong_replies": sum(1 for a in inside if not a.right),
        "wrong_samples": [w for stats, _, _ in slices for w in stats.wrong_samples][:5],
    }


def memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of a process, in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return {"rss_mb": found.get("VmRSS", 0.0), "peak_rss_mb": found.get("VmHWM", 0.0)}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


class BotUnderLoad:
    """One bot process, its own fake Bot API and its 500 clients."""

    def __init__(self, name: str, argv: list[str] | None, crisis_marker: str) -> None:
        self.name = name
        self.marker = crisis_marker
        self.folder = Path(tempfile.mkdtemp(prefix=f"bench-load-{name.replace(' ', '-')}-"))
        self.fake = LoadFake(every_message_a_screen=argv is not None)
        self.argv = argv
        self.users = list(range(FIRST_USER, FIRST_USER + CLIENTS))
        self.saturated: list[Slice] = []
        self.paced: list[Slice] = []
        self.cpu = 0.0
        self.warmup_failed = 0
        self.memory: dict[str, float] = {}
        self.bot: BotProcess | None = None

    async def start(self) -> None:
        await self.fake.start()
        env = bot_env(self.fake, self.folder, LOG_LEVEL="INFO")
        self.bot = BotProcess(env, log_path=self.folder / "bot.log", argv=self.argv)
        self.bot.start()
        await self.bot.wait_ready(self.fake, 30)
        # Warm-up: every client says /start once, 50 at a time (not measured).
        gate = asyncio.Semaphore(50)

        async def hello(user: int) -> None:
            async with gate:
                future: asyncio.Future[Call] = asyncio.get_running_loop().create_future()
                self.fake.waiting[user] = Waiter("warmup", future)
                self.fake.push(self.fake.updates.command(user, "/start"))
                try:
                    await asyncio.wait_for(future, REPLY_TIMEOUT)
                except TimeoutError:
                    self.warmup_failed += 1
                    self.fake.waiting.pop(user, None)

        await asyncio.gather(*(hello(u) for u in self.users))
        await asyncio.sleep(0.5)
        self.refused_before = len(self.fake.refused)
        self.log_before = len(self.bot.log_text())

    async def run(self, seconds: float, think: float, seed: int) -> None:
        """One window of load: saturated (think 0) or paced; waits for answers in flight."""
        assert self.bot is not None
        stats = Stats()
        rng = random.Random(seed)
        cpu_before = _cpu_seconds(self.bot.pid)
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(
            *(
                client(self.fake, u, stats, until, think, random.Random(rng.random()), self.marker)
                for u in self.users
            )
        )
        if think == 0:
            self.cpu += _cpu_seconds(self.bot.pid) - cpu_before
            self.saturated.append((stats, started, until))
        else:
            self.paced.append((stats, started, until))
        await asyncio.sleep(0.5)

    async def stop(self) -> dict[str, Any]:
        """Stop the bot; every figure for it."""
        if self.bot is None or not self.bot.running:
            await self.fake.stop()
            if self.bot is None:
                return {}
        try:
            if self.bot.running:
                self.memory = memory(self.bot.pid)
                await self.bot.terminate(30)
        finally:
            if self.bot.running:
                self.bot.kill()
                await self.bot.wait_exit(10)
            await self.fake.stop()
        log = self.bot.log_text()[self.log_before :]
        shutil.rmtree(self.folder, ignore_errors=True)
        error_lines = [
            line for line in log.splitlines() if " ERROR " in line or "Traceback" in line
        ]
        refused = self.fake.refused[self.refused_before :]
        # An edit to identical content (a client tapping a screen twice before it changed) is
        # refused by Telegram and handled by the bot on purpose: counted, not an error.
        double_taps = [c for c in refused if "not modified" in (c.error or "")]
        refused = [c for c in refused if c not in double_taps]
        saturated, paced = summary(self.saturated), summary(self.paced)
        answered = sum(len(stats.answered) for stats, _, _ in self.saturated)
        saturated["cpu_ms_per_update"] = self.cpu / max(1, answered) * 1000
        errors = (
            self.warmup_failed
            + saturated["timeouts"]
            + paced["timeouts"]
            + saturated["wrong_replies"]
            + paced["wrong_replies"]
            + len(refused)
            + len(error_lines)
        )
        return {
            "bot": self.name,
            "saturated": saturated,
            "paced": paced,
            "errors": errors,
            "warmup_failed": self.warmup_failed,
            "refused_calls": sorted({f"{c.method}: {c.error}" for c in refused}),
            "not_modified_edits": len(double_taps),
            "error_lines": error_lines[:5],
            "wrong_samples": saturated["wrong_samples"] + paced["wrong_samples"],
            **self.memory,
        }


def _cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process so far (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def machine() -> str:
    cpu = platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'':<12}{'saturated (no think time)':^35}|{'paced (think time mean ' + f'{THINK:g} s)':^47}|"
    cols = (
        f"{'bot':<12}{'updates/s':>10}{'p50 ms':>8}{'p99 ms':>8}{'CPU ms/u':>9}|"
        f"{'updates/s':>10}{'p50 ms':>8}{'p99 ms':>8}{'crisis p50':>11}{'crisis p99':>11}|"
        f"{'errors':>7}{'RSS MB':>8}{'peak MB':>8}"
    )
    lines = [head, cols, "-" * len(cols)]
    for r in rows:
        sat, paced = r["saturated"], r["paced"]
        lines.append(
            f"{r['bot']:<12}{sat['updates_per_s']:>10.1f}{sat['p50_ms']:>8.1f}{sat['p99_ms']:>8.1f}"
            f"{sat['cpu_ms_per_update']:>9.2f}|{paced['updates_per_s']:>10.1f}"
            f"{paced['p50_ms']:>8.1f}{paced['p99_ms']:>8.1f}{paced['crisis_p50_ms']:>11.1f}"
            f"{paced['crisis_p99_ms']:>11.1f}|{r['errors']:>7d}{r['rss_mb']:>8.1f}"
            f"{r['peak_rss_mb']:>8.1f}"
        )
    return "\n".join(lines)


async def _main() -> dict[str, Any]:
    print(f"machine: {machine()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M')}, load average before: {_load()}")
    print(
        f"{CLIENTS} clients, {SECONDS:.0f} s per bot ({SECONDS / 3:.0f} s saturated, "
        f"{SECONDS * 2 / 3:.0f} s paced; {ROUNDS} rounds, the bots taking turns), "
        f"mix {', '.join(f'{k} {w:.0%}' for k, w in MIX)}, seed {SEED}",
        flush=True,
    )
    # Both bots run side by side (each idle while the other is loaded) and take turns in short
    # windows, so background load on the machine falls on both alike.
    bots = [
        BotUnderLoad("supportbot", None, "988"),
        BotUnderLoad("echo bot", [sys.executable, "-m", "tests.kit.echo_bot"], ""),
    ]
    results: list[dict[str, Any]] = []
    try:
        for bot in bots:
            await bot.start()
        for index in range(ROUNDS):
            order = bots if index % 2 == 0 else bots[::-1]
            for bot in order:
                await bot.run(SECONDS / 3 / ROUNDS, 0.0, SEED + index)
            for bot in order:
                await bot.run(SECONDS * 2 / 3 / ROUNDS, THINK, SEED + 100 + index)
            print(f"  round {index + 1}/{ROUNDS} done", flush=True)
    finally:
        for bot in bots:
            results.append(await bot.stop())
    ours, echo = results
    print(table([ours, echo]))
    sat, paced = ours["saturated"], ours["paced"]
    ratio = sat["updates_per_s"] / max(echo["saturated"]["updates_per_s"], 1e-9)
    goals = {
        "throughput_vs_echo": ratio,
        "throughput_goal_met": ratio >= 0.5,
        "crisis_p99_ms": paced["crisis_p99_ms"],
        "crisis_p99_goal_met": paced["crisis_p99_ms"] < GOAL_CRISIS_P99_MS,
        "errors": ours["errors"],
        "no_errors": ours["errors"] == 0,
    }

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print(
        f"throughput supportbot/echo {ratio:.2f} (goal >= 0.50: {verdict(goals['throughput_goal_met'])}); "
        f"crisis p99 {paced['crisis_p99_ms']:.1f} ms over {paced['crisis_n']} risk messages "
        f"(goal < {GOAL_CRISIS_P99_MS:.0f} ms: {verdict(goals['crisis_p99_goal_met'])}); "
        f"errors {ours['errors']} (goal 0: {verdict(goals['no_errors'])})"
    )
    print(f"supportbot paced p99 by kind (ms): {_fmt(paced['p99_ms_by_kind'])}")
    for row in (ours, echo):
        windows = ", ".join(f"{x:.0f}" for x in row["paced"]["p99_ms_by_window"])
        print(f"{row['bot']} paced p99 per window (ms): {windows}")
    print(
        f"supportbot saturated: crisis p99 {sat['crisis_p99_ms']:.0f} ms (queued behind the "
        f"backlog like every update); not-modified edits from double taps: "
        f"{ours['not_modified_edits']}; load average after: {_load()}"
    )
    for row in (ours, echo):
        for key in ("refused_calls", "error_lines", "wrong_samples"):
            if row[key]:
                print(f"  {row['bot']} {key}: {row[key]}")
    return {"supportbot": ours, "echo": echo, "goals": goals}


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in values.items())


def main() -> dict[str, Any]:
    return asyncio.run(_main())


if __name__ == "__main__":
    main()
