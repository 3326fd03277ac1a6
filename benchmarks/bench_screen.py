"""Risk screening throughput: `supportbot screen` end to end, per-message latency, and a baseline.

Run: `python benchmarks/bench_screen.py [N]` (default 50,000 lines). Measures, in one run:
  (a) lines/s in-process, and through `python -m supportbot.safety.screen_cli` as a fresh process
      (start-up, lexicon load, JSON out included), the path `supportbot screen` takes;
  (b) per-message p50/p99/max latency in-process;
  (c) a naive baseline: lower-case the text and test every plain phrase of the lexicon as a
      substring (`any(p in text for p in phrases)`), the obvious first implementation.
Lines are typical chat messages (English and Spanish, emoji, typos; about 1% risk), generated
with a fixed seed. Wall-clock and CPU time are both shown: on a shared machine CPU is the fairer.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from supportbot.safety.lexicon import build_lexicon  # noqa: E402
from supportbot.safety.patterns import Compiler, parse  # noqa: E402
from supportbot.safety.screening import Screener  # noqa: E402

MESSAGES = ROOT / "messages"
LANGS = ["en", "es"]
GOAL = 20_000  # lines per second, process start included (issue 3)

_SUBJ = [
    "i",
    "we",
    "my therapist",
    "my mom",
    "my friend",
    "honestly i",
    "today i",
    "i just",
    "lol i",
]
_VERB = [
    "feel",
    "felt",
    "think",
    "talked about",
    "worked on",
    "went to",
    "had",
    "want",
    "need",
    "tried",
    "started",
    "finished",
    "miss",
    "love",
    "hate",
    "keep thinking about",
    "skipped",
]
_OBJ = [
    "my anxiety",
    "work",
    "the weekend",
    "a long walk",
    "my sister",
    "the session",
    "dinner with friends",
    "my boss",
    "the exam",
    "some breathing exercises",
    "journaling",
    "sleep",
    "my childhood",
    "the new job",
    "coffee",
    "the gym",
    "a movie",
    "my cat",
    "the future",
    "boundaries",
    "my meds",
    "the deadline",
    "my ex",
    "therapy homework",
]
_TAIL = [
    "",
    "",
    "",
    " today",
    " this week",
    " and it helped",
    " but it was hard",
    " lol",
    " 🙂",
    "!",
    "...",
    " again",
    " tbh",
    " and felt better after",
    " and cried a bit",
    " yesterday",
    " 😅",
    " idk",
    " which was nice",
    " and i'm exhausted",
]
_SHORT = [
    "ok",
    "thanks",
    "see you tomorrow",
    "good morning",
    "👍",
    "yes",
    "no",
    "maybe later",
    "how are you?",
    "can we talk?",
    "i'm tired",
    "long day",
    "heading to bed",
    "feeling ok",
    "not great today",
    "this homework is killing me",
    "dying to see the new movie",
    "my phone died lol",
    "I'm dead 😂",
    "we talked about my dad who died",
]
_ES = [
    "hoy hablé con mi terapeuta",
    "me siento un poco mejor",
    "fui a caminar",
    "estoy cansada",
    "mañana tengo sesión",
    "gracias",
    "cené con amigos",
    "el trabajo está pesado",
    "dormí mal",
    "me ayudó respirar",
    "me muero de sueño jaja",
    "el examen me está matando",
    "qué día tan largo",
    "no sé qué hacer con mi jefe",
    "extraño a mi abuela",
]
_RISK = [
    "i want to kill myself",
    "i don't want to wake up tomorrow",
    "me quiero morir",
    "i cut myself again",
    "nobody would miss me",
    "kms",
    "ya no quiero vivir",
    "this is my last message",
    "he hit me again",
    "i've been saving my pills",
]


def typical_lines(n: int, seed: int = 20261122) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        r = rng.random()
        if i % 100 == 37:
            out.append(rng.choice(_RISK))
        elif r < 0.18:
            out.append(rng.choice(_SHORT))
        elif r < 0.30:
            out.append(rng.choice(_ES))
        else:
            line = f"{rng.choice(_SUBJ)} {rng.choice(_VERB)} {rng.choice(_OBJ)}{rng.choice(_TAIL)}"
            if rng.random() < 0.2:  # a longer message
                line += f", {rng.choice(_SUBJ)} {rng.choice(_VERB)} {rng.choice(_OBJ)}"
            if rng.random() < 0.1:
                line = line.capitalize()
            out.append(line)
    return out


def plain_phrases() -> list[str]:
    """Every plain word sequence the lexicon's patterns spell out (what a naive bot would list)."""
    import tomllib

    phrases: set[str] = set()
    for lang in LANGS:
        data = tomllib.loads((MESSAGES / lang / "crisis.toml").read_text(encoding="utf-8"))
        lex = build_lexicon(lang, data, lang)
        macros = {k: list(v) for k, v in data.get("macros", {}).items()}
        comp = Compiler()
        for p in lex.patterns:
            src = p.source.lstrip().removeprefix("!")  # "!" only marks explicit patterns
            expanded = comp.expand(parse(src, p.key, macros))
            for words in expanded or ():
                phrases.add(" ".join(words))
    return sorted(phrases)


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def run_inprocess(lines: list[str]) -> dict[str, float]:
    t0 = time.perf_counter()
    c0 = time.process_time()
    screener = Screener.load(MESSAGES, LANGS)
    load_s = time.perf_counter() - t0
    flagged = 0
    t1 = time.perf_counter()
    c1 = time.process_time()
    for line in lines:
        flagged += screener.screen(line, "en").risk
    wall = time.perf_counter() - t1
    cpu = time.process_time() - c1
    # per-message latency, second pass (warm, as in a long-running bot)
    lat = []
    clock = time.perf_counter_ns
    for line in lines:
        a = clock()
        screener.screen(line, "en")
        lat.append((clock() - a) / 1000.0)
    return {
        "load_ms": load_s * 1000,
        "lines_per_s_wall": len(lines) / wall,
        "lines_per_s_cpu": len(lines) / cpu if cpu else float("inf"),
        "total_cpu_s": time.process_time() - c0,
        "p50_us": statistics.median(lat),
        "p99_us": _pct(lat, 0.99),
        "max_us": max(lat),
        "flagged": flagged,
    }


def run_baseline(lines: list[str], phrases: list[str]) -> dict[str, float]:
    flagged = 0
    lat = []
    clock = time.perf_counter_ns
    t = time.perf_counter()
    c = time.process_time()
    for line in lines:
        a = clock()
        low = line.lower()
        hit = any(p in low for p in phrases)
        lat.append((clock() - a) / 1000.0)
        flagged += hit
    wall = time.perf_counter() - t
    cpu = time.process_time() - c
    return {
        "lines_per_s_wall": len(lines) / wall,
        "lines_per_s_cpu": len(lines) / cpu if cpu else float("inf"),
        "p50_us": statistics.median(lat),
        "p99_us": _pct(lat, 0.99),
        "max_us": max(lat),
        "flagged": flagged,
    }


def run_process(path: Path, n: int, *, cache: bool) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not cache:
        env["SUPPORTBOT_CACHE_DIR"] = "off"
    cmd = [sys.executable, "-m", "supportbot.safety.screen_cli", "--messages", str(MESSAGES)]
    with path.open("rb") as stdin:
        t = time.perf_counter()
        before = os.times()
        proc = subprocess.run(cmd, stdin=stdin, capture_output=True, env=env, check=True)
        after = os.times()
        wall = time.perf_counter() - t
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    out_lines = proc.stdout.count(b"\n")
    assert out_lines == n, (out_lines, n)
    return {"lines_per_s_wall": n / wall, "lines_per_s_cpu": n / cpu, "wall_s": wall, "cpu_s": cpu}


def main(n: int = 50_000) -> dict[str, dict[str, float]]:
    lines = typical_lines(n)
    phrases = plain_phrases()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lines.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        one = Path(tmp) / "one.txt"
        one.write_text("hello\n", encoding="utf-8")
        run_process(one, 1, cache=True)  # warm the compiled-lexicon cache
        start_warm = run_process(one, 1, cache=True)
        start_cold = run_process(one, 1, cache=False)
        proc_warm = run_process(path, n, cache=True)
        proc_cold = run_process(path, n, cache=False)
    inproc = run_inprocess(lines)
    base = run_baseline(lines, phrases)
    figures = {
        "screener_in_process": inproc,
        "screen_cli_process": proc_warm,
        "screen_cli_process_no_cache": proc_cold,
        "process_start_only": start_warm,
        "process_start_only_no_cache": start_cold,
        "naive_substring_baseline": base,
    }
    print(
        f"{n:,} typical chat lines (~1% risk); {len(phrases):,} plain lexicon phrases in the baseline"
    )
    print(
        f"{'':38} {'lines/s wall':>13} {'lines/s CPU':>12} {'p50 µs':>8} {'p99 µs':>8} {'max µs':>9}"
    )
    rows = [
        ("screen CLI process, cache (a)", proc_warm, None),
        ("screen CLI process, no cache (a)", proc_cold, None),
        ("Screener in-process (a, b)", inproc, inproc),
        ("naive substring baseline (c)", base, base),
    ]
    for name, f, lat in rows:
        p50 = f"{lat['p50_us']:8.1f}" if lat else f"{'':>8}"
        p99 = f"{lat['p99_us']:8.1f}" if lat else f"{'':>8}"
        mx = f"{lat['max_us']:9.0f}" if lat else f"{'':>9}"
        print(
            f"{name:38} {f['lines_per_s_wall']:13,.0f} {f['lines_per_s_cpu']:12,.0f} {p50} {p99} {mx}"
        )
    print(
        f"process start + load + 1 line: {start_warm['wall_s'] * 1000:.0f} ms wall / "
        f"{start_warm['cpu_s'] * 1000:.0f} ms CPU (cache), {start_cold['wall_s'] * 1000:.0f} ms wall / "
        f"{start_cold['cpu_s'] * 1000:.0f} ms CPU (no cache); in-process load {inproc['load_ms']:.0f} ms"
    )
    print(f"flagged: screener {inproc['flagged']:.0f}, baseline {base['flagged']:.0f}")
    ok = proc_warm["lines_per_s_cpu"] >= GOAL
    print(
        f"goal {GOAL:,} lines/s on one core, process start included: {'met' if ok else 'NOT met'} (CPU)"
    )
    return figures


if __name__ == "__main__":
    # `make bench` runs this through benchmarks/run_all.py, whose own arguments are not counts.
    counts = [a for a in sys.argv[1:] if a.isdigit()]
    main(int(counts[0]) if counts else 50_000)
