"""Validating an AnnData against a composite schema, slot by slot, and annotating the saved artifact.

`ln.Schema(otype="AnnData", slots={"obs": obs_schema, "var.T": var_schema})`: every slot is checked before
anything is written and every problem of every slot goes into one `ValidationError`, each line naming its
slot. What the slots mean, as in LaminDB:
- "obs" / "var": the DataFrame `adata.obs` / `adata.var`, column by column (`validate.validate_dataframe`);
- "var.T": the var index as values of the slot schema's itype (`bt.Gene.ensembl_gene_id`: the genes that
  were measured, looked up saved or in the public source through `from_values`), and X against its dtype.

On save (`annotate_in`, in the artifact's own transaction): `artifact.schema` is the composite; per slot an
`artifact_schemas` row names the feature set found there (the obs features; for "var.T" a schema listing
the genes, through `schema_genes`, so `ln.Schema.filter(genes__symbol="CD8A")` finds it); the labels of
categorical obs columns are linked with their features, as for a DataFrame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from .categoricals import CatColumn, check_in_registries, problem_text, suggestions_for
from .validate import Validation, schema_label, validate_dataframe

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..models import Artifact, Schema

FRAME_SLOTS = ("obs", "var")
INDEX_SLOTS = ("var.T",)
DTYPE_KINDS = {"int": "iu", "float": "f", "num": "iuf", "bool": "b"}  # numpy dtype kinds X may have


@dataclass
class IndexSlot:
    """The "var.T" slot: the var index as registry values (genes), and X's dtype."""

    slot: str
    schema: "Schema"
    column: CatColumn
    problems: list[str] = field(default_factory=list)


@dataclass
class AnnDataValidation:
    schema: "Schema"  # the composite
    frames: dict[str, Validation] = field(default_factory=dict)  # "obs", "var"
    indexes: dict[str, IndexSlot] = field(default_factory=dict)  # "var.T"
    problems: list[str] = field(default_factory=list)

    @property
    def new_labels(self) -> list[tuple[Any, str]]:
        """Labels and genes validated from a public source: save() stores them first, once each."""
        out = [pair for v in self.frames.values() for pair in v.new_labels]
        out += [(r, slot.column.field) for slot in self.indexes.values() for r in slot.column.records if r.id is None]
        return out

    def error(self) -> ValidationError:
        body = "\n".join(f"- {p}" for p in self.problems)
        n = len(self.problems)
        return ValidationError(f"{n} problem{'s' if n != 1 else ''} validating the AnnData against schema {schema_label(self.schema)}:\n{body}")

    def annotate_in(self, s: "Session", artifact: "Artifact", new_ids: dict[int, int]) -> None:
        annotate_in(s, artifact, self, new_ids)


def validate_anndata(adata: Any, schema: "Schema", raise_error: bool = True) -> AnnDataValidation:
    """Check every slot of `schema` against `adata`; one ValidationError lists every problem, slot by slot."""
    from .schemas import slots_of

    if not _is_anndata(adata):
        raise ValidationError(f"expected an AnnData, not {type(adata).__name__}")
    if schema.id is None:
        raise ValidationError("save the schema before validating against it: schema = ln.Schema(...).save()")
    slots = slots_of(schema)
    if not slots:
        raise ValidationError(
            f"schema {schema_label(schema)} has no slots: an AnnData is validated against a composite schema,"
            ' e.g. ln.Schema(otype="AnnData", slots={"obs": obs_schema, "var.T": var_schema}).save()'
        )
    if schema.otype not in (None, "AnnData"):
        raise ValidationError(f"schema {schema_label(schema)} describes an {schema.otype}, not an AnnData")
    unknown = [s for s in slots if s not in FRAME_SLOTS + INDEX_SLOTS]
    if unknown:
        raise ValidationError(
            f"schema {schema_label(schema)} has slot(s) {', '.join(map(repr, unknown))}, which lamin-core does not validate;"
            f" known slots: {', '.join(FRAME_SLOTS + INDEX_SLOTS)}"
        )
    result = AnnDataValidation(schema=schema)
    for slot, slot_schema in slots.items():
        if slot in FRAME_SLOTS:
            frame = validate_dataframe(getattr(adata, slot), slot_schema, raise_error=False)
            result.frames[slot] = frame
            result.problems += [f"slot {slot!r}: {p}" for p in frame.problems]
        else:
            index = _validate_var_index(adata, slot, slot_schema)
            result.indexes[slot] = index
            result.problems += [f"slot {slot!r}: {p}" for p in index.problems]
    if result.problems and raise_error:
        raise result.error()
    return result


def _is_anndata(obj: Any) -> bool:
    return any(c.__name__ == "AnnData" for c in type(obj).__mro__)


def _validate_var_index(adata: Any, slot: str, schema: "Schema") -> IndexSlot:
    from .dtypes import label_field, parse, resolve_registry

    if schema.itype in (None, "Feature"):
        raise ValidationError(
            f"slot {slot!r} takes a schema of a registry field, e.g. ln.Schema(itype=bt.Gene.ensembl_gene_id, dtype=int),"
            f" not schema {schema_label(schema)} of itype {schema.itype!r}"
        )
    dtype = parse(f"cat[{schema.itype}]")
    values = [str(v) for v in adata.var_names]
    column = CatColumn("var index", SimpleNamespace(name="var index"), dtype,  # type: ignore[arg-type]
                       resolve_registry(dtype.registry or "ULabel"), label_field(dtype), values=list(dict.fromkeys(values)))
    out = IndexSlot(slot=slot, schema=schema, column=column)
    if len(column.values) < len(values):
        doubled = sorted({v for v in values if values.count(v) > 1})[:20] if len(values) < 100_000 else []
        out.problems.append(f"the var index names a value more than once: {', '.join(map(repr, doubled))} → make var_names unique")
    check_in_registries([column])
    if column.non_validated:
        hints = suggestions_for([column])
        text = problem_text(column, hints.get(id(column), {}))
        out.problems.append(text.replace("in feature 'var index'", f"in the var index ({schema.itype})", 1))
    if schema.dtype:
        kinds = DTYPE_KINDS.get(schema.dtype)
        x_dtype = getattr(adata.X, "dtype", None)
        if kinds is not None and x_dtype is not None and x_dtype.kind not in kinds:
            out.problems.append(
                f"X has dtype {x_dtype}, but schema {schema_label(schema)} requires dtype {schema.dtype!r}"
                f" → convert it, e.g. adata.X = adata.X.astype({'int' if schema.dtype == 'int' else 'float'})"
            )
        elif x_dtype is None:
            out.problems.append(f"the AnnData has no X, but schema {schema_label(schema)} requires its dtype {schema.dtype!r}")
    return out


def annotate_in(s: "Session", artifact: "Artifact", validation: AnnDataValidation, new_ids: dict[int, int]) -> None:
    """Write the composite schema, one feature set per slot and the obs/var labels, in the save's transaction."""
    from sqlalchemy import delete, insert

    from ..models.annotations import LABEL_ACCESSORS, LABEL_LINKS, artifact_schemas
    from .labels import link_labels
    from .schemas import feature_set_in, member_set_in

    if artifact.schema_id != validation.schema.id:
        artifact.schema_id = validation.schema.id
        s.add(artifact)
    rows = []
    for slot, frame in validation.frames.items():
        if frame.features:
            rows.append({"artifact_id": artifact.id, "slot": slot, "schema_id": feature_set_in(s, frame.features)})
        for col in frame.cat_columns:
            accessor = LABEL_ACCESSORS.get(col.model.__name__)
            if accessor is None:
                raise ValidationError(f"{col.model.__name__} is not a label registry: feature {col.feature.name!r} cannot annotate")
            label_ids = [label.id if label.id is not None else new_ids[id(label)] for label in col.records]
            link_labels(s, LABEL_LINKS[("Artifact", accessor)], artifact.id, label_ids, col.feature.id)
    for slot, index in validation.indexes.items():
        member_ids = [r.id if r.id is not None else new_ids[id(r)] for r in index.column.records]
        set_id = member_set_in(s, index.schema.itype, index.schema.dtype, index.column.model, member_ids)
        rows.append({"artifact_id": artifact.id, "slot": slot, "schema_id": set_id})
    slots = [r["slot"] for r in rows]
    if slots:
        s.execute(delete(artifact_schemas).where(artifact_schemas.c.artifact_id == artifact.id, artifact_schemas.c.slot.in_(slots)))
        s.execute(insert(artifact_schemas), rows)
