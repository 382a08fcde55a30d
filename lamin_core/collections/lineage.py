"""Collections through the one recording path: how an engine names a collection as a step's input.

An engine cannot hand `lamin_core.lineage.record()` a collection: datasets become artifacts. So a step that
reads a collection reports its members, the files it actually reads, each as a `Dataset` carrying the facet
`lamin_collection: {"uid": ...}` (`collection_datasets()`). The recorder registers the members as the run's
input artifacts, as for any file, and `link_input_collections()`, called in the same write transaction,
links the collection itself as the run's input (`run_input_collections`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..lineage.events import Dataset
    from ..models import Collection

COLLECTION_FACET = "lamin_collection"


def collection_datasets(collection: "Collection") -> list["Dataset"]:
    """The members of a saved collection as input datasets that name the collection."""
    from ..artifacts.access import artifact_uri
    from ..lineage.events import Dataset
    from ..storage.paths import is_local, strip_file_scheme
    from .access import members

    if collection.id is None:
        raise ValueError("save the collection before naming it as a step's input: collection.save()")
    out = []
    for a in members(collection):
        uri = artifact_uri(a)
        facets = {"lamin_artifact": {"uid": a.uid}, COLLECTION_FACET: {"uid": collection.uid, "key": collection.key}}
        if is_local(uri):
            out.append(Dataset("file", strip_file_scheme(uri), facets=facets))
        else:
            scheme, rest = uri.split("://", 1)
            authority, _, name = rest.partition("/")
            out.append(Dataset(f"{scheme}://{authority}", name, facets=facets))
    return out


def collection_uid_of(facets: Any) -> str | None:
    value = (facets or {}).get(COLLECTION_FACET)
    return value.get("uid") if isinstance(value, dict) else None


def link_input_collections(s: "Session", run_inputs: Iterable[tuple[int, Any]]) -> None:
    """Link the collections named by (run id, resolved input dataset) pairs as inputs of those runs."""
    from sqlalchemy import select

    from ..db.upsert import insert_ignore
    from ..models import Collection
    from ..models.collection import run_input_collections

    wanted = {(run_id, uid) for run_id, rd in run_inputs if (uid := collection_uid_of(getattr(rd, "facets", None)))}
    if not wanted:
        return
    ids = dict(s.execute(select(Collection.uid, Collection.id).where(Collection.uid.in_({u for _, u in wanted}))).tuples().all())
    rows = [{"run_id": run_id, "collection_id": ids[uid]} for run_id, uid in sorted(wanted) if uid in ids]
    insert_ignore(s, run_input_collections, rows)
