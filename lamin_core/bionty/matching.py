"""Matching values against a parsed source: exact, synonym, case-insensitive, and close (typo) matches.

Shared by `public()` (search, validate, inspect, standardize against the source) and by the registries'
`from_values()` / `standardize()`. Everything works on the columns of a `SourceTable` and on indexes built
once per table and kept in it, so a second call costs only the lookups.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from .sources import SourceTable

# search tiers: a higher tier always ranks first; within a tier, the better similarity, then the shorter text
EXACT_NAME, EXACT_SYNONYM, NAME_PREFIX, SYNONYM_PREFIX, NAME_WORD, NAME_CONTAINS, SYNONYM_CONTAINS, DESCRIPTION, SIMILAR = (
    9, 8, 7, 6, 5, 4, 3, 2, 1)
MAX_CANDIDATES = 400  # texts compared by difflib per typo search
FUZZY_CUTOFF = 0.6  # difflib ratio below which a "similar" candidate is noise
_WORDS = re.compile(r"[^\W_]+")


def name_column(table: "SourceTable") -> str:
    return "symbol" if "symbol" in table.columns else "name"


def lowered(table: "SourceTable", column: str) -> list[str]:
    """The column lower-cased ("" for None), built once per table."""
    key = f"lower:{column}"
    out = table._indexes.get(key)
    if out is None:
        out = [v.lower() if isinstance(v, str) else "" for v in table.columns[column]]
        table._indexes[key] = out
    return out


def lower_index(table: "SourceTable", column: str) -> dict[str, list[int]]:
    key = f"lowerix:{column}"
    ix = table._indexes.get(key)
    if ix is None:
        ix = {}
        for i, v in enumerate(lowered(table, column)):
            if v:
                ix.setdefault(v, []).append(i)
        table._indexes[key] = ix
    return ix


def _synonym_pairs(table: "SourceTable") -> tuple[list[str], list[int]]:
    """Every synonym lower-cased, and the row it belongs to (for contains and typo matches)."""
    key = "synonym_pairs"
    pairs = table._indexes.get(key)
    if pairs is None:
        texts: list[str] = []
        rows: list[int] = []
        for syn, rows_ in table.synonym_index(lower=True).items():
            for r in rows_:
                texts.append(syn)
                rows.append(r)
        pairs = (texts, rows)
        table._indexes[key] = pairs
    return pairs


def search_rows(table: "SourceTable", string: str, limit: int | None = 20) -> list[tuple[int, int, float]]:
    """Rows matching `string`, best first, as (row, tier, similarity)."""
    query = string.strip().lower()
    if not query:
        return []
    col = name_column(table)
    names = lowered(table, col)
    best: dict[int, tuple[int, float]] = {}

    def offer(row: int, tier: int, sim: float) -> None:
        if best.get(row, (0, 0.0)) < (tier, sim):
            best[row] = (tier, sim)

    for row in lower_index(table, col).get(query, ()):
        offer(row, EXACT_NAME, 1.0)
    for row in table.synonym_index(lower=True).get(query, ()):
        offer(row, EXACT_SYNONYM, 1.0)
    word = re.compile(rf"(?<![^\W_]){re.escape(query)}")
    for row, name in enumerate(names):
        if query in name and row not in best:
            if name.startswith(query):
                offer(row, NAME_PREFIX, len(query) / len(name))
            elif word.search(name):
                offer(row, NAME_WORD, len(query) / len(name))
            else:
                offer(row, NAME_CONTAINS, len(query) / len(name))
    syn_texts, syn_rows = _synonym_pairs(table)
    for text, row in zip(syn_texts, syn_rows):
        if query in text:
            offer(row, SYNONYM_PREFIX if text.startswith(query) else SYNONYM_CONTAINS, len(query) / len(text))
    if limit is None or len(best) < limit:  # typos: only when the direct matches are too few
        for row, sim in similar_rows(table, query, n=max(limit or 20, 20)):
            offer(row, SIMILAR, sim)
    ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], -kv[1][1], len(names[kv[0]]), kv[0]))
    ranked = ranked[:limit] if limit else ranked
    return [(row, tier, sim) for row, (tier, sim) in ranked]


def similar_rows(table: "SourceTable", query: str, n: int = 20, cutoff: float = FUZZY_CUTOFF) -> list[tuple[int, float]]:
    """Rows whose name or a synonym is close to `query` (difflib's ratio, with its cheap bounds first)."""
    col = name_column(table)
    names = lowered(table, col)
    syn_texts, syn_rows = _synonym_pairs(table)
    candidates = _candidates(table, query)
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(query)
    scored: dict[int, float] = {}
    for idx in candidates:
        if idx < len(names):
            text, row = names[idx], idx
        else:
            text, row = syn_texts[idx - len(names)], syn_rows[idx - len(names)]
        matcher.set_seq1(text)
        if matcher.real_quick_ratio() >= cutoff and matcher.quick_ratio() >= cutoff:
            r = matcher.ratio()
            if r >= cutoff and r > scored.get(row, 0.0):
                scored[row] = r
    return sorted(scored.items(), key=lambda kv: -kv[1])[:n]


def _candidates(table: "SourceTable", query: str) -> Iterable[int]:
    """Texts (names, then synonyms) that share word starts with `query`: a typo keeps most words' start.

    Word starts that most texts share ("cel" of "cell" in CL) select nothing and are skipped; the texts
    sharing the most of the remaining ones are the candidates.
    """
    key = "prefix3"
    ix = table._indexes.get(key)
    if ix is None:
        ix = {}
        names = lowered(table, name_column(table))
        syn_texts, _ = _synonym_pairs(table)
        for i, text in enumerate(names + syn_texts):
            for w in set(_WORDS.findall(text)):
                ix.setdefault(w[:3], []).append(i)
        table._indexes[key] = ix
    n_texts = len(table) + len(_synonym_pairs(table)[0])
    lists = [ix.get(w[:3], []) for w in set(_WORDS.findall(query)) if len(w) >= 2]
    selective = [rows for rows in lists if len(rows) <= max(MAX_CANDIDATES, n_texts // 20)] or sorted(lists, key=len)[:1]
    counts: dict[int, int] = {}
    for rows in selective:
        for i in rows:
            counts[i] = counts.get(i, 0) + 1
    if len(counts) <= MAX_CANDIDATES:
        return sorted(counts)
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:MAX_CANDIDATES]
    return sorted(i for i, _ in ranked)


def closest(table: "SourceTable", value: str, n: int = 3) -> list[str]:
    """Names near a value that matched nothing: suggestions for an error message."""
    col = name_column(table)
    return [table.columns[col][row] for row, _ in similar_rows(table, str(value).lower(), n=n, cutoff=0.7)]


def standardize_map(table: "SourceTable", values: Iterable[str], field: str, return_field: str,
                    case_sensitive: bool = False) -> dict[str, str]:
    """value -> the `return_field` of the one term it names by `field`, a synonym, or a case variant.

    A synonym shared by several terms maps to none of them: which one was meant cannot be known.
    """
    exact = table.index(field)
    syn = table.synonym_index(lower=True)
    case = lower_index(table, field) if not case_sensitive else {}
    out: dict[str, str] = {}
    targets = table.columns[return_field]
    for v in values:
        if not isinstance(v, str):
            continue
        if v in exact:
            out[v] = targets[exact[v]]
            continue
        rows = case.get(v.lower(), []) if not case_sensitive else []
        if len(rows) != 1:
            rows = syn.get(v.lower(), [])
            if case_sensitive:
                rows = [r for r in rows if v in (table.columns["synonyms"][r] or "").split("|")
                        or v in (table.columns.get("prev_symbols", [None] * (r + 1))[r] or "").split("|")]
        if len(rows) == 1 and targets[rows[0]] is not None:
            out[v] = targets[rows[0]]
    return out
