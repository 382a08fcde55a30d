"""Artifact: a file, folder, table or array, with its content hash, its storage and its lineage.

This module holds the columns and the public method names; the work lives in `lamin_core.artifacts`
(creating from paths and objects, saving, loading), so that this class stays a readable index.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, event, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import SQLRecord, uid_type, utcnow
from .run import run_input_artifacts

if TYPE_CHECKING:
    from ..query.queryset import QuerySet
    from .core import Storage
    from .run import Run
    from .schema import Schema
    from .transform import Transform


class Artifact(SQLRecord):
    __tablename__ = "artifacts"
    __table_args__ = (
        # one latest version per key in a storage location: concurrent savers of a key can't both win
        Index(
            "uq_artifacts_latest_key",
            "storage_id",
            "key",
            unique=True,
            sqlite_where=text("is_latest = 1"),
            postgresql_where=text("is_latest"),
        ),
    )
    _uid_length = 20  # 16-character stem shared by versions + 4-character version suffix
    _name_field = "key"

    key: Mapped[str | None] = mapped_column(uid_type(1024), default=None, index=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    storage_id: Mapped[int] = mapped_column(ForeignKey("storages.id"), index=True)
    suffix: Mapped[str] = mapped_column(String(30), default="")
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # the same content is the same artifact: unique where known (NULLs are distinct)
    hash: Mapped[str | None] = mapped_column(String(86), default=None, unique=True)
    hash_type: Mapped[str | None] = mapped_column(String(30), default=None)
    n_files: Mapped[int | None] = mapped_column(Integer, default=None)
    otype: Mapped[str | None] = mapped_column(String(64), default=None)  # DataFrame, AnnData, ...
    kind: Mapped[str | None] = mapped_column(String(20), default=None)  # None (dataset), log, report, environment, plan
    version: Mapped[str | None] = mapped_column(String(50), default=None)
    is_latest: Mapped[bool] = mapped_column(default=True)
    # managed data was copied into `.lamindb/` by save() and is removed by delete(permanent=True);
    # unmanaged data was registered in place and is never touched
    managed: Mapped[bool] = mapped_column(default=True)
    facets: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), default=None, index=True)
    # the schema this artifact was validated against (from_dataframe(..., schema=...))
    schema_id: Mapped[int | None] = mapped_column(ForeignKey("schemas.id"), default=None)

    storage: Mapped["Storage"] = relationship(lazy="joined")
    schema: Mapped["Schema | None"] = relationship(foreign_keys=[schema_id])
    run: Mapped["Run | None"] = relationship(foreign_keys=[run_id])
    input_of_runs: Mapped[list["Run"]] = relationship(
        secondary=run_input_artifacts, back_populates="input_artifacts", order_by="Run.id"
    )

    def __init__(self, path: Any = None, *, key: str | None = None, description: str | None = None, **kwargs: Any):
        from ..artifacts.create import init_artifact

        init_artifact(self, path, key=key, description=description, **kwargs)

    # ---- constructors from in-memory objects ----

    @classmethod
    def from_dataframe(cls, df: Any, *, key: str | None = None, description: str | None = None, **kwargs: Any) -> "Artifact":
        from ..artifacts.create import from_dataframe

        return from_dataframe(df, key=key, description=description, **kwargs)

    from_df = from_dataframe

    @classmethod
    def from_anndata(cls, adata: Any, *, key: str | None = None, description: str | None = None, **kwargs: Any) -> "Artifact":
        from ..artifacts.create import from_anndata

        return from_anndata(adata, key=key, description=description, **kwargs)

    # ---- saving and deleting ----

    def save(self, *args: Any, **kwargs: Any) -> "Artifact":
        from ..artifacts.save import save_artifact

        return save_artifact(self, **kwargs)

    def delete(self, permanent: bool | None = None) -> None:
        from ..artifacts.save import delete_artifact

        delete_artifact(self, permanent=bool(permanent))

    # ---- access ----

    @property
    def path(self) -> Any:
        from ..artifacts.access import artifact_path

        return artifact_path(self)

    def cache(self) -> Path:
        from ..artifacts.access import cache

        return cache(self)

    def load(self, **kwargs: Any) -> Any:
        from ..artifacts.access import load

        return load(self, **kwargs)

    def open(self, **kwargs: Any) -> Any:
        from ..artifacts.access import open_artifact

        return open_artifact(self, **kwargs)

    # ---- lineage and versions ----

    @property
    def transform(self) -> "Transform | None":
        return self.run.transform if self.run is not None else None

    @property
    def versions(self) -> "QuerySet":
        return type(self).filter(uid__startswith=self.uid[:-4]).order_by("created_at")

    @property
    def feature_sets(self) -> "QuerySet":
        """The feature sets (schemas) found in this artifact, one per slot."""
        from .schema import Schema

        return Schema.filter(artifacts=self)

    @property
    def stem_uid(self) -> str:
        return self.uid[:-4]

    def view_lineage(self, *args: Any, **kwargs: Any) -> Any:
        from ..lineage.graph import view_lineage

        return view_lineage(self, *args, **kwargs)


@event.listens_for(Artifact, "before_update")
def _key_rules_on_every_flush(_mapper: Any, _connection: Any, artifact: Artifact) -> None:
    """A key changed on a stored artifact is checked whatever flushes it (any save, any commit)."""
    from ..artifacts.key_checks import drop_refused_key

    drop_refused_key(artifact)
