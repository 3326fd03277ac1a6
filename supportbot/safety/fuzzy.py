"""Typo tolerance for the lexicon's key words ("sucidal", "suicidle", "myslef").

Symmetric-deletion lookup: every key word is indexed with the strings left after deleting up to
its allowed number of letters; a token is looked up with its own single deletions. Candidates are
confirmed with an optimal-string-alignment distance, so only real near-misses are corrected.
Correction runs once per distinct token (the screener memoises it).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations


def max_distance(word: str) -> int:
    """Edits tolerated on a key word: none on short words, where typos collide with real words."""
    if len(word) >= 8:
        return 2
    if len(word) >= 5:
        return 1
    return 0


def osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (adjacent swaps count 1); returns limit+1 past limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        row_min = i
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            row_min = min(row_min, v)
        if row_min > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[len(b)]


def _deletions(word: str, n: int) -> set[str]:
    out = {word}
    for k in range(1, n + 1):
        if len(word) - k < 3:
            break
        for idx in combinations(range(len(word)), k):
            skip = set(idx)
            out.add("".join(c for i, c in enumerate(word) if i not in skip))
    return out


class TypoIndex:
    """Maps a misspelt token to the key word it most likely stands for."""

    __slots__ = ("_index", "_keep", "_words")

    def __init__(self, words: Iterable[str], keep: Iterable[str]) -> None:
        self._words = frozenset(words)
        # Real words (lexicon words, listed non-typos) are never "corrected".
        self._keep = frozenset(keep) | self._words
        self._index: dict[str, list[str]] = {}
        for w in sorted(self._words):
            for d in _deletions(w, max_distance(w)):
                self._index.setdefault(d, []).append(w)

    def correct(self, token: str) -> str | None:
        """The key word `token` is a typo of, or None."""
        if len(token) < 4 or token in self._keep or not token.isalpha():
            return None
        index = self._index
        cands: set[str] = set(index.get(token, ()))
        for i in range(len(token)):
            d = token[:i] + token[i + 1 :]
            hit = index.get(d)
            if hit:
                cands.update(hit)
        best: str | None = None
        best_key = (99, 0, "")
        for w in cands:
            # Typos rarely touch the first letter; requiring it keeps real words apart.
            if w[0] != token[0] and w[:2] != token[1::-1]:
                continue
            # A word cut short by 2+ letters is usually another real word (cortar/cortarme).
            if len(w) - len(token) >= 2 and w.startswith(token):
                continue
            limit = max_distance(w)
            dist = osa_distance(token, w, limit)
            key = (dist, -len(w), w)
            if dist <= limit and key < best_key:
                best, best_key = w, key
        return best
