"""Text normalisation for risk screening.

The same function normalises client messages and the lexicon's patterns, so a clinician writes
"don't want to wake up" and it matches "DONT want 2 wake up", "d o n t want to wake up" and
"dont waaant to wake up". Output is lower-case ASCII-ish words separated by single spaces.

Two implementations share every step: `normalise` (fast, used on every message) and
`normalise_mapped` (slow, used only after a hit, to map a span back to the original text).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

# Apostrophes are deleted so that "don't", "dont" and "don t" become one word.
_APOSTROPHES = "'’‘`´ʼʹʻ′＇"
# Zero-width, bidi, soft hyphen, variation selectors and C0/C1 controls are deleted; they are
# used to split words invisibly ("k\u200bill").
_DELETE_RANGES = (
    (0x00, 0x08),
    (0x0E, 0x1F),
    (0x7F, 0x9F),
    (0xAD, 0xAD),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xE0000, 0xE007F),
)
# Emoji with a meaning in crisis language become words, so patterns can use them.
EMOJI_WORDS: dict[str, str] = {
    "\U0001f48a": "emojipill",  # pill
    "\U0001f52a": "emojiknife",  # kitchen knife
    "\U0001fa78": "emojiblood",  # drop of blood
    "\u26b0": "emojicoffin",  # coffin
    "\U0001faa6": "emojigrave",  # headstone
    "\U0001faa2": "emojirope",  # knot
    "\U0001f52b": "emojigun",  # pistol
    "\U0001fa92": "emojirazor",  # razor
}

_FIRST_TABLE: dict[int, str | None] = {ord(c): None for c in _APOSTROPHES}
for _lo, _hi in _DELETE_RANGES:
    for _cp in range(_lo, _hi + 1):
        _FIRST_TABLE[_cp] = None
for _c in "\t\n\v\f\r":
    _FIRST_TABLE[ord(_c)] = " "
_EMOJI_TABLE: dict[int, str] = {ord(k): f" {v} " for k, v in EMOJI_WORDS.items()}

# Combining marks stripped after NFKD: that removes accents (á -> a, ñ -> n, ü -> u).
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
# A letter touching a leet character: only then is a run rewritten.
_LEETISH = re.compile(r"[a-z][0-9@$!|]|[0-9@$!|][a-z]")
_LEET_RUN = re.compile(r"[a-z0-9@$!|]+")
_LEET_TABLE = str.maketrans("013457@$", "oieasta" + "s")
_BANG_BETWEEN = re.compile(r"(?<=[a-z])[!|](?=[a-z])")
_NON_WORD = re.compile(r"[\W_]+")
# Three or more one-character words in a row are one spelled-out word: "d i e", "k.m.s".
_SPELLED = re.compile(r"(?<!\w)\w(?: \w(?!\w)){2,}")
# A star inside a word is a censored letter ("s*icide", "k*ll"): it is dropped and the typo rule
# restores the word.
_STAR_IN_WORD = re.compile(r"(?<=[a-z])\*+(?=[a-z])")
# Letters spelled out with single spaces, words told apart by wider gaps ("n o  r e a s o n"):
# each group is joined before spacing is collapsed. Only runs when such a wide gap exists.
_SPELLED_GROUP = re.compile(r"(?<!\S)\w(?: \w(?!\S))+")
_WIDE_SPELLED = re.compile(r"(?<!\S)\w {2,}\w(?!\S)")
# Any ASCII letter repeated is kept once ("dieeee" -> "die", "kill" -> "kil"), in text and lexicon alike.
_REPEATS = re.compile(r"([a-z])\1+")


def _leet_run(m: re.Match[str]) -> str:
    run = m.group()
    if not any("a" <= c <= "z" for c in run):
        return run
    run = _BANG_BETWEEN.sub("i", run)
    return run.translate(_LEET_TABLE)


def _unspell(m: re.Match[str]) -> str:
    return m.group().replace(" ", "")


def _repeat(m: re.Match[str]) -> str:
    return m.group(1)


def _fold_char(c: str) -> str:
    """Per-character part of the pipeline (deletions, NFKD, casefold, accents, emoji)."""
    c = c.translate(_FIRST_TABLE)
    if not c:
        return c
    if c.isascii():
        return c.lower()
    c = unicodedata.normalize("NFKD", c).casefold()
    c = unicodedata.normalize("NFKD", c)
    c = _COMBINING.sub("", c)
    return c.translate(_EMOJI_TABLE)


def _fold(text: str) -> str:
    text = text.translate(_FIRST_TABLE)
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text).casefold()
    text = unicodedata.normalize("NFKD", text)
    text = _COMBINING.sub("", text)
    return text.translate(_EMOJI_TABLE)


# The regex steps after folding, in order: (pattern, replacement, guard). A guard regex skips the
# step cheaply when it cannot apply.
_Step = tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str, re.Pattern[str] | None]
_STEPS: tuple[_Step, ...] = (
    (_LEET_RUN, _leet_run, _LEETISH),
    (_STAR_IN_WORD, "", _STAR_IN_WORD),
    (_SPELLED_GROUP, _unspell, _WIDE_SPELLED),
    (_NON_WORD, " ", None),
    (_SPELLED, _unspell, None),
    (_REPEATS, _repeat, None),
)


def normalise(text: str) -> str:
    """Normalise for matching: words of letters/digits separated by single spaces, no edges."""
    s = _fold(text)
    if _LEETISH.search(s) is not None:
        s = _LEET_RUN.sub(_leet_run, s)
    if "*" in s:
        s = _STAR_IN_WORD.sub("", s)
    if "  " in s and _WIDE_SPELLED.search(s) is not None:
        s = _SPELLED_GROUP.sub(_unspell, s)
    s = _NON_WORD.sub(" ", s)
    s = _SPELLED.sub(_unspell, s)
    s = _REPEATS.sub(_repeat, s)
    return s.strip()


def _mapped_sub(
    pattern: re.Pattern[str],
    repl: Callable[[re.Match[str]], str] | str,
    s: str,
    pos: list[int],
) -> tuple[str, list[int]]:
    """`pattern.sub` that also carries, for every output character, its source position."""
    out: list[str] = []
    out_pos: list[int] = []
    last = 0
    for m in pattern.finditer(s):
        a, b = m.span()
        out.append(s[last:a])
        out_pos.extend(pos[last:a])
        r = repl(m) if callable(repl) else m.expand(repl)
        out.append(r)
        if len(r) == b - a:
            out_pos.extend(pos[a:b])
        elif r == m.group().replace(" ", ""):
            # Spaces removed: keep the positions of the characters that stay.
            out_pos.extend(p for p, ch in zip(pos[a:b], m.group(), strict=True) if ch != " ")
        else:
            anchor = pos[a] if a < len(pos) else (pos[-1] if pos else 0)
            out_pos.extend([anchor] * len(r))
        last = b
    out.append(s[last:])
    out_pos.extend(pos[last:])
    return "".join(out), out_pos


def normalise_mapped(text: str) -> tuple[str, list[int]]:
    """`normalise` plus, for each output character, the index of its source character in `text`."""
    chars: list[str] = []
    pos: list[int] = []
    for i, c in enumerate(text):
        f = _fold_char(c)
        chars.append(f)
        pos.extend([i] * len(f))
    s = "".join(chars)
    for pattern, repl, guard in _STEPS:
        if guard is not None and guard.search(s) is None:
            continue
        s, pos = _mapped_sub(pattern, repl, s, pos)
    # strip(), keeping positions aligned
    start = len(s) - len(s.lstrip())
    end = len(s.rstrip())
    return s[start:end], pos[start:end]
