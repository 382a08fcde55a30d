"""Reading a collection: its members in order, in memory as one object, streamed, or as local files.

Loading, opening, caching or mapping a collection in a tracked run makes the collection (not each member)
an input of that run, as LaminDB records it; a collection the run itself saved is its output, not its input.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

if TYPE_CHECKING:
    from ..models import Artifact, Collection
    from ..query.queryset import QuerySet

SOURCE_COLUMN = "artifact_uid"  # load(): the column naming each row's source artifact


def ordered_artifacts(collection: "Collection") -> "QuerySet":
    """The members as a query set ordered by their position; members in the trash stay members."""
    from ..models import Artifact
    from ..models.collection import collection_artifacts as ca
    from ..query.queryset import QuerySet

    if collection.id is None:
        raise ValueError("save the collection first: collection.save()")
    position = (
        select(ca.c.position).where(ca.c.collection_id == collection.id, ca.c.artifact_id == Artifact.id)
        .correlate(Artifact).scalar_subquery()
    )
    members = select(ca.c.artifact_id).where(ca.c.collection_id == collection.id)
    return QuerySet(Artifact, where=(Artifact.id.in_(members),), order=(position.asc(),), branch_scope=False)


def members(collection: "Collection") -> list["Artifact"]:
    if collection.id is None:
        return list(getattr(collection, "_members", None) or [])
    return list(ordered_artifacts(collection))


def register_input(collection: "Collection") -> None:
    """Link the collection as an input of the active run (not of the run that saved it)."""
    from ..db import engine as db
    from ..db.upsert import insert_ignore
    from ..models.collection import run_input_collections
    from ..tracking.context import _active, current_run

    if _active() is None or collection.id is None:
        return
    run = current_run()
    if run is None or collection.run_id == run.id:
        return
    with db.write() as s:
        insert_ignore(s, run_input_collections, {"run_id": run.id, "collection_id": collection.id})


def cache(collection: "Collection") -> list[Path]:
    from ..artifacts.access import cache as cache_artifact

    paths = [cache_artifact(a, _track=False) for a in members(collection)]
    register_input(collection)
    return paths


def load(collection: "Collection", join: str = "outer", **kwargs: Any) -> Any:
    """AnnData members concatenated (`label="artifact_uid"` names each cell's source), or DataFrame members
    stacked with an `artifact_uid` column; other kinds are refused with what to use instead."""
    from ..artifacts.access import LOADERS

    if join not in ("inner", "outer"):
        raise ValueError(f"join must be 'inner' or 'outer', not {join!r}")
    items = members(collection)
    suffixes = sorted({(a.suffix or "").lower() for a in items})
    paths = cache(collection)
    if suffixes == [".h5ad"]:
        from .._optional import require

        ad = require("anndata", extra="anndata", needed_for="loading a collection of .h5ad artifacts")
        adatas = {a.uid: ad.read_h5ad(p) for a, p in zip(items, paths)}
        return ad.concat(adatas, join=join, label=SOURCE_COLUMN, index_unique=None, **kwargs)
    if suffixes and all(s in (".parquet", ".csv", ".tsv") for s in suffixes):
        import pandas as pd

        frames = []
        for a, p in zip(items, paths):
            df = LOADERS[(a.suffix or "").lower()](p)
            frames.append(df.assign(**{SOURCE_COLUMN: pd.Categorical([a.uid] * len(df), categories=[x.uid for x in items])}))
        return pd.concat(frames, join=join, **kwargs)
    raise NotImplementedError(
        f"load() concatenates collections of .h5ad or of table (.parquet, .csv, .tsv) artifacts, not {', '.join(suffixes) or 'these'};"
        " iterate over collection.ordered_artifacts and load each, or use collection.cache() for local paths"
    )


def open_collection(collection: "Collection", **kwargs: Any) -> Any:
    """A pyarrow dataset over the parquet members (one schema; read lazily, e.g. `.to_table(filter=...)`)."""
    import pyarrow.dataset as pads

    from ..artifacts.access import artifact_uri
    from ..storage.paths import filesystem, is_local

    items = members(collection)
    wrong = [a.key or a.uid for a in items if (a.suffix or "").lower() != ".parquet"]
    if wrong:
        raise NotImplementedError(
            f"open() streams collections of .parquet artifacts; these members are not: {', '.join(wrong[:10])}"
            " → use collection.load(), collection.mapped() for .h5ad members, or open each artifact"
        )
    uris = [artifact_uri(a) for a in items]
    register_input(collection)
    if all(is_local(u) for u in uris):
        return pads.dataset(uris, format="parquet", **kwargs)
    fs = filesystem(uris[0])
    return pads.dataset([u.split("://", 1)[1] for u in uris], format="parquet", filesystem=fs, **kwargs)
