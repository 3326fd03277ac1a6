"""A start-up cache for compiled lexicons, so `supportbot screen` starts in milliseconds.

Compiling a crisis.toml takes tens of milliseconds of pure Python, and training the learned layer
on crisis_examples/ (see `learned`) a few hundred; `supportbot screen` is judged on
throughput including process start. The compiled form is plain data (strings, tuples, frozensets),
stored with `marshal` under a key made of the file's bytes, the compiler's own source and the
Python version, so any change to either rebuilds it. Every failure (no cache folder, a read-only
disk, a damaged file) silently falls back to compiling: the cache can only save time.

Folder: $SUPPORTBOT_CACHE_DIR, else $XDG_CACHE_HOME/supportbot, else ~/.cache/supportbot.
SUPPORTBOT_CACHE_DIR=off disables it.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from supportbot.safety.concepts import ConceptRule
from supportbot.safety.learned import LearnedModel, from_plain, read_examples, to_plain, train
from supportbot.safety.lexicon import Lexicon, Pattern, build_lexicon

# The compiler's sources: a change to any of them invalidates every cached lexicon.
_SOURCES = ("lexicon.py", "patterns.py", "normalise.py", "concepts.py", "learned.py")

T = TypeVar("T")

_FORMAT = b"supportbot-lexicon-4"
_fingerprint: bytes | None = None


def cache_dir() -> Path | None:
    """Where compiled lexicons are kept, or None when caching is off."""
    env = os.environ.get("SUPPORTBOT_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "no") else Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "supportbot"


def _code_fingerprint() -> bytes:
    global _fingerprint
    if _fingerprint is None:
        h = hashlib.sha256(_FORMAT)
        h.update(sys.version.encode())
        here = Path(__file__).parent
        for name in _SOURCES:
            h.update((here / name).read_bytes())
        _fingerprint = h.digest()
    return _fingerprint


def _to_plain(lex: Lexicon) -> tuple[object, ...]:
    def pat(p: Pattern) -> tuple[object, ...]:
        return (
            p.lang,
            p.category,
            p.level,
            p.key,
            p.source,
            p.regex,
            p.anchors,
            p.prefixes,
            p.compact,
            p.words,
            p.second,
            p.explicit,
        )

    return (
        lex.lang,
        tuple(pat(p) for p in lex.patterns),
        tuple(pat(p) for p in lex.exceptions),
        lex.typo_words,
        lex.not_typos,
        lex.variants,
        lex.negation_cues,
        lex.negation_bridges,
        lex.categories,
        lex.problems,
        lex.concepts,
        tuple(
            (r.key, r.category, r.level, r.seq, r.gaps, r.unless, r.before, r.after)
            for r in lex.concept_rules
        ),
    )


def _from_plain(data: object) -> Lexicon:
    if not isinstance(data, tuple) or len(data) != 12:
        raise ValueError("unexpected cache content")
    lang, pats, excs, typos, not_typos, variants, cues, bridges, cats, problems, sets, rules = data

    def pat(t: tuple[object, ...]) -> Pattern:
        return Pattern(*t)  # type: ignore[arg-type]

    return Lexicon(
        lang=lang,
        patterns=tuple(pat(t) for t in pats),
        exceptions=tuple(pat(t) for t in excs),
        typo_words=typos,
        not_typos=not_typos,
        variants=variants,
        negation_cues=cues,
        negation_bridges=bridges,
        categories=cats,
        problems=problems,
        concepts=sets,
        concept_rules=tuple(ConceptRule(*r) for r in rules),
    )


def _cached(
    kind: str,
    key: bytes,
    build: Callable[[], T],
    dump: Callable[[T], tuple[object, ...]],
    load: Callable[[object], T],
) -> T:
    """`build()` unless a cached result for `key` (plus the code fingerprint) can be loaded."""
    folder = cache_dir()
    file: Path | None = None
    if folder is not None:
        h = hashlib.sha256(_code_fingerprint())
        h.update(kind.encode() + b"\0" + key)
        file = folder / f"{kind}-{h.hexdigest()[:32]}.bin"
        try:
            return load(marshal.loads(file.read_bytes()))
        except Exception:
            pass
    result = build()
    if file is not None:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            tmp = file.with_name(f"{file.name}.{os.getpid()}.tmp")
            tmp.write_bytes(marshal.dumps(dump(result)))  # type: ignore[arg-type]
            os.replace(tmp, file)
        except Exception:
            pass
    return result


def load_lexicon(lang: str, path: Path, label: str, *, use_cache: bool = True) -> Lexicon:
    """Compile `path` (a crisis.toml), or take the compiled form from the cache."""
    raw = Path(path).read_bytes()

    def build() -> Lexicon:
        import tomllib  # only on a cache miss

        return build_lexicon(lang, tomllib.loads(raw.decode("utf-8")), label)

    if not use_cache:
        return build()
    key = lang.encode() + b"\0" + label.encode() + b"\0" + raw
    lex: Lexicon = _cached("lexicon", key, build, _to_plain, _from_plain)
    return lex


def load_learned(lang: str, folder: Path, *, use_cache: bool = True) -> LearnedModel:
    """Train on the `*.tsv` files in `folder` (crisis_examples/), or take the model from the cache."""
    files = sorted(Path(folder).glob("*.tsv"))
    raws = [f.read_bytes() for f in files]

    def build() -> LearnedModel:
        examples = [e for f in files for e in read_examples(f)]
        return train(lang, examples)

    if not use_cache:
        return build()
    key = (
        lang.encode()
        + b"\0"
        + b"\0".join(f.name.encode() + b"\0" + r for f, r in zip(files, raws, strict=True))
    )
    model: LearnedModel = _cached("learned", key, build, to_plain, from_plain)
    return model
