"""Writing what validation found onto the artifact, inside the transaction that saves the artifact.

`Artifact.from_dataframe(df, schema=schema)` validates and keeps the result on the unsaved artifact;
`save()` calls `annotate_saved()` in its own write transaction, right after the artifact row is
inserted, so a failed save leaves neither the artifact nor its annotations. What is written:
- `artifact.schema_id`: the schema it was validated against (set on the row before the INSERT);
- an `artifact_schemas` row for slot "columns": a schema listing the features of the columns that were
  actually validated, found by its hash or made;
- for every categorical column, a link from the artifact to each label found, with the column's feature
  (`artifact_ulabels(artifact_id, label_id, feature_id)`), so `ln.Artifact.filter(perturbation="IFNG")`
  finds it; labels validated from a public source but not yet stored are saved first.

Content that is already registered returns the stored artifact: it gets these annotations (links are
idempotent; the "columns" slot and `schema_id` are replaced). A new version of a key is a new artifact
and gets its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete

from ..errors import ValidationError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..models import Artifact
    from .validate import Validation

COLUMNS_SLOT = "columns"


def annotate_saved(s: "Session", pending: list["Artifact"], results: list["Artifact"]) -> None:
    """Annotate each saved artifact (results[i], which may be a stored one) from pending[i]'s validation."""
    pairs = [(saved, a._validation) for a, saved in zip(pending, results) if getattr(a, "_validation", None) is not None]
    new_ids = _save_new_labels(s, [v for _, v in pairs])
    for saved, validation in pairs:
        annotate_in(s, saved, validation, new_ids)


def _save_new_labels(s: "Session", validations: list["Validation"]) -> dict[int, int]:
    """Store labels validated from a public source, once each, in the caller's transaction: {id(label): row id}.

    They were unsaved when validated: an id they carry now comes from an attempt that rolled back. Saving one
    may store another as its ancestor (bionty saves a term's parents): that one is then found, not inserted again.
    """
    from sqlalchemy import select

    unique: dict[int, tuple[Any, str]] = {}
    for validation in validations:
        for label, field_name in validation.new_labels:
            unique.setdefault(id(label), (label, field_name))
    for label, _ in unique.values():
        label.id = None
    ids: dict[int, int] = {}
    for key, (label, field_name) in unique.items():
        model = type(label)
        stored = s.execute(
            select(model.id).where(getattr(model, field_name) == getattr(label, field_name)).order_by(model.id).limit(1)
        ).scalar()
        if stored is None:
            label.save()  # joins the caller's write transaction
            stored = label.id
        ids[key] = stored
    return ids


def annotate_in(s: "Session", artifact: "Artifact", validation: "Validation", new_ids: dict[int, int] | None = None) -> None:
    from sqlalchemy import insert

    from ..models.annotations import LABEL_ACCESSORS, LABEL_LINKS, artifact_schemas
    from .labels import link_labels
    from .schemas import feature_set_in

    if hasattr(validation, "annotate_in"):  # an AnnData's, slot by slot (validate_anndata.py)
        validation.annotate_in(s, artifact, new_ids or {})
        return
    schema_id = validation.schema.id
    if schema_id is None:
        raise ValidationError("save the schema before saving an artifact validated against it: schema.save()")
    if artifact.schema_id != schema_id:
        artifact.schema_id = schema_id
        s.add(artifact)
    if validation.features:
        feature_set_id = feature_set_in(s, validation.features)
        s.execute(delete(artifact_schemas).where(
            artifact_schemas.c.artifact_id == artifact.id, artifact_schemas.c.slot == COLUMNS_SLOT
        ))
        s.execute(insert(artifact_schemas), [{"artifact_id": artifact.id, "slot": COLUMNS_SLOT, "schema_id": feature_set_id}])
    for col in validation.cat_columns:
        accessor = LABEL_ACCESSORS.get(col.model.__name__)
        if accessor is None:
            raise ValidationError(f"{col.model.__name__} is not a label registry: feature {col.feature.name!r} cannot annotate")
        label_ids = [label.id if label.id is not None else (new_ids or {})[id(label)] for label in col.records]
        link_labels(s, LABEL_LINKS[("Artifact", accessor)], artifact.id, label_ids, col.feature.id)
