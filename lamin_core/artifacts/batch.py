"""Inserting a batch of new artifacts with a constant number of queries, whatever the batch size.

`save()` of one artifact and `ln.save([...])` of thousands take this same path: one query for content
that is already registered, one for the latest versions of the keys, one UPDATE that steps old versions
down, one multi-row INSERT. Rows are built in Python and inserted with SQLAlchemy Core, then the objects
are attached to the session as if they had been loaded, which is several times cheaper than the ORM's
unit of work for a table this wide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import make_transient_to_detached


if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..models import Artifact


LatestByKey = dict[tuple[int, str], tuple[int, str]]  # (storage id, key) -> (id, uid) of the latest version


def known_content_and_keys(s: "Session", hashes: set[str], keys: set[str]) -> tuple[dict[str, "Artifact"], LatestByKey]:
    """One query for both questions a save asks: which contents are registered, which keys have versions."""
    from sqlalchemy import and_, or_

    from ..models import Artifact

    conditions = []
    if hashes:
        conditions.append(Artifact.hash.in_(hashes))
    if keys:
        conditions.append(and_(Artifact.is_latest, Artifact.key.in_(keys)))
    if not conditions:
        return {}, {}
    rows = s.execute(
        select(Artifact.id, Artifact.uid, Artifact.hash, Artifact.storage_id, Artifact.key, Artifact.is_latest).where(
            or_(*conditions)
        )
    ).all()
    existing = {h: s.get(Artifact, aid) for aid, _, h, _, _, _ in rows if h is not None and h in hashes}
    latest = {(sid, key): (aid, uid) for aid, uid, _, sid, key, is_latest in rows if is_latest and key in keys}
    return existing, latest  # type: ignore[return-value]


def assign_versions(s: "Session", artifacts: list["Artifact"], latest_in_db: LatestByKey) -> list[int]:
    """Give each artifact that continues a key (or `revises` one) its next version uid.

    `latest_in_db` comes from `known_content_and_keys`; the uids come from `versions.VersionCounter`.
    Returns the ids of stored artifacts that stop being the latest version. Several new artifacts for one key in one batch become consecutive
    versions, the last one latest.
    """
    from ..models import Artifact

    from .versions import VersionCounter

    latest_in_db = dict(latest_in_db)
    versions = VersionCounter(s)
    latest_in_batch: dict[tuple[int, str], "Artifact"] = {}
    step_down: list[int] = []
    for a in artifacts:
        revises = getattr(a, "_revises", None)
        slot = (a.storage_id, a.key) if a.key is not None else None
        previous_uid: str | None = None
        if slot is not None and slot in latest_in_batch:
            earlier = latest_in_batch[slot]
            earlier.is_latest = False
            previous_uid = earlier.uid
        elif slot is not None and slot in latest_in_db:
            previous_id, previous_uid = latest_in_db.pop(slot)
            step_down.append(previous_id)
        elif revises is not None:
            previous_uid = _latest_uid_of_stem(s, revises.uid[:-4], step_down) or revises.uid
        if previous_uid is not None:
            a.uid = versions.next_after(previous_uid)
        if slot is not None:
            latest_in_batch[slot] = a
    return step_down


def _latest_uid_of_stem(s: "Session", stem: str, step_down: list[int]) -> str | None:
    from ..models import Artifact

    row = s.execute(
        select(Artifact.id, Artifact.uid).where(Artifact.uid.startswith(stem, autoescape=True), Artifact.is_latest)
    ).first()
    if row is None:
        return None
    step_down.append(row[0])
    return row[1]


def step_down_versions(s: "Session", artifact_ids: list[int]) -> None:
    from ..models import Artifact

    if artifact_ids:
        # through the ORM so that objects the user holds see is_latest change too
        s.execute(
            update(Artifact).where(Artifact.id.in_(artifact_ids)).values(is_latest=False),
            execution_options={"synchronize_session": "evaluate"},
        )


def _row(artifact: "Artifact", columns: list[Any]) -> dict[str, Any]:
    row = {}
    for col in columns:
        value = artifact.__dict__.get(col.key)
        if value is None and col.default is not None:
            value = col.default.arg(None) if col.default.is_callable else col.default.arg
            setattr(artifact, col.key, value)
        row[col.key] = value
    return row


def insert_artifacts(s: "Session", artifacts: list["Artifact"]) -> None:
    """INSERT the rows in one statement and attach the objects to the session as persistent."""
    from ..models import Artifact

    if not artifacts:
        return
    table = Artifact.__table__
    columns = [c for c in table.columns if c.key != "id"]
    rows = [_row(a, columns) for a in artifacts]
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    new_ids = s.execute(stmt, rows).scalars().all()
    for artifact, new_id in zip(artifacts, new_ids):
        artifact.id = new_id
        make_transient_to_detached(artifact)
        s.add(artifact)
