"""Checks for the crisis files, for `supportbot check`: one "file:key: message" line per problem.

Checks what a reviewer cannot see by reading: that every pattern compiles, that every language has
every category, that concept rules name known concepts (and every concept is used, in every
language), that reply placeholders agree between languages, that every country entry names
its source and the date it was checked, that every possible reply stays short, and that the
learned layer's examples read cleanly (known labels and categories).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

from supportbot.safety.learned import read_examples
from supportbot.safety.lexicon import CATEGORIES, LEVELS, build_lexicon
from supportbot.safety.reply import (
    REQUIRED,
    TEMPLATE_KEYS,
    CrisisReplies,
    flatten_reply,
    placeholders,
)
from supportbot.safety.resources import Resources

MAX_REPLY_CHARS = 1500  # Telegram allows 4096; a crisis reply must stay short.
MAX_BUTTON_CHARS = 40


def _check_reply(file: str, reply: object, problems: list[str]) -> dict[str, set[str]]:
    """Problems in one [reply] table; returns each key's placeholders for cross-language checks."""
    found: dict[str, set[str]] = {}
    if not isinstance(reply, dict):
        problems.append(f"{file}:reply: missing")
        return found
    flat = flatten_reply(reply)
    for key in sorted(set(flat) - set(TEMPLATE_KEYS)):
        problems.append(f"{file}:reply.{key}: unknown key")
    for key, allowed in TEMPLATE_KEYS.items():
        value = flat.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{file}:reply.{key}: missing or empty")
            continue
        try:
            names = placeholders(value)
        except ValueError as exc:
            problems.append(f"{file}:reply.{key}: bad braces ({exc}); write {{{{ for a brace")
            continue
        for name in sorted(names - allowed):
            problems.append(
                f"{file}:reply.{key}: unknown placeholder {{{name}}}; "
                f"use {', '.join('{' + a + '}' for a in sorted(allowed)) or 'none'}"
            )
        for name in sorted(REQUIRED.get(key, frozenset()) - names):
            problems.append(f"{file}:reply.{key}: must contain {{{name}}}")
        if key.startswith("buttons.") and len(value) > MAX_BUTTON_CHARS:
            problems.append(f"{file}:reply.{key}: {len(value)} characters; keep buttons short")
        found[key] = names
    return found


def validate(messages_dir: Path, languages: Sequence[str]) -> list[str]:
    """Every problem in the crisis lexicons, replies and resources, as "file:key: message"."""
    messages_dir = Path(messages_dir)
    root = messages_dir.name
    problems: list[str] = []
    by_lang_placeholders: dict[str, dict[str, set[str]]] = {}
    categories: dict[str, set[str]] = {}
    concept_rules: dict[str, int] = {}
    loaded: list[str] = []
    for lang in languages:
        file = f"{root}/{lang}/crisis.toml"
        path = messages_dir / lang / "crisis.toml"
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            problems.append(f"{file}: missing (every language needs its crisis file)")
            continue
        except (OSError, tomllib.TOMLDecodeError) as exc:
            problems.append(f"{file}: cannot be read: {exc}")
            continue
        loaded.append(lang)
        for ex_file in sorted((messages_dir / lang / "crisis_examples").glob("*.tsv")):
            ex_problems: list[str] = []
            read_examples(ex_file, ex_problems)
            problems.extend(f"{root}/{lang}/crisis_examples/{p}" for p in ex_problems)
        lex = build_lexicon(lang, data, file)
        problems.extend(lex.problems)
        for p in (*lex.patterns, *lex.exceptions):
            try:
                re.compile(p.regex)
            except re.error as exc:
                problems.append(f"{p.key}: pattern {p.source!r} does not compile: {exc}")
        present: set[str] = set()
        for p in lex.patterns:
            present.add(p.category)
        categories[lang] = present
        for cat in CATEGORIES:
            if cat not in present:
                problems.append(f"{file}:{cat}: missing category (needs at least one pattern)")
        table_levels = {c: data.get(c) for c in lex.categories}
        for cat, table in table_levels.items():
            if isinstance(table, dict) and not any(table.get(level) for level in LEVELS):
                problems.append(f"{file}:{cat}: has no patterns")
        if not lex.negation_cues:
            problems.append(f"{file}:negation.cues: missing (negation must lower, never cancel)")
        used = {c for r in lex.concept_rules for c in (*r.seq, *r.unless)}
        for name, _ in lex.concepts:
            if name not in used:
                problems.append(f"{file}:concepts.{name}: not used by any rule in [concept_rules]")
        concept_rules[lang] = len(lex.concept_rules)
        by_lang_placeholders[lang] = _check_reply(file, data.get("reply"), problems)

    # The compositional layer in every language or in none (it carries a share of recall).
    if any(concept_rules.values()):
        for lang, count in concept_rules.items():
            if not count:
                problems.append(
                    f"{root}/{lang}/crisis.toml:concept_rules: missing (another language has "
                    "concept rules; every language needs its own)"
                )

    # The same categories and the same placeholders in every language.
    all_cats = set().union(*categories.values()) if categories else set()
    for lang, cats in categories.items():
        for cat in sorted(all_cats - cats - set(CATEGORIES)):
            problems.append(
                f"{root}/{lang}/crisis.toml:{cat}: missing (present in another language)"
            )
    if len(by_lang_placeholders) > 1:
        ref_lang = "en" if "en" in by_lang_placeholders else next(iter(by_lang_placeholders))
        ref = by_lang_placeholders[ref_lang]
        for lang, found in by_lang_placeholders.items():
            if lang == ref_lang:
                continue
            for key in sorted(set(ref) & set(found)):
                if ref[key] != found[key]:
                    problems.append(
                        f"{root}/{lang}/crisis.toml:reply.{key}: placeholders "
                        f"{sorted(found[key])} differ from {ref_lang}'s {sorted(ref[key])}"
                    )

    try:
        resources = Resources.load(messages_dir / "resources.toml")
    except FileNotFoundError:
        problems.append(f"{root}/resources.toml: missing")
        return problems
    except (OSError, tomllib.TOMLDecodeError) as exc:
        problems.append(f"{root}/resources.toml: cannot be read: {exc}")
        return problems
    problems.extend(resources.problems)
    if len(resources.countries) < 1:
        problems.append(f"{root}/resources.toml:countries: no usable country")

    if loaded:
        try:
            replies = CrisisReplies.load(messages_dir, loaded, resources)
        except ValueError as exc:
            problems.append(f"{root}: {exc}")
            return problems
        for lang in loaded:
            for code in (*resources.countries, None):
                for level in ("urgent", "concern"):
                    for repeat in (False, True):
                        text = replies.build(lang, code, level, repeat).text
                        if len(text) > MAX_REPLY_CHARS:
                            problems.append(
                                f"{root}/{lang}/crisis.toml:reply: the {level} reply for "
                                f"{code or 'unknown countries'} is {len(text)} characters "
                                f"(keep it under {MAX_REPLY_CHARS})"
                            )
    return problems
