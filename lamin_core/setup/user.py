"""Who is writing, and to which branch: resolved once per connection, then read from a cache.

Column defaults (`created_by_id`, `branch_id`) run inside a flush, where a query would be unsafe, so the
ids are looked up when the engine is first created (see `db.engine`) and cached here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..db import engine as db

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.engine import Engine

    from ..db.dbapi import Rows

    from .settings import InstanceSettings

_cache: dict[str, Any] = {}


def on_engine_created(engine: "Engine", settings: "InstanceSettings") -> None:
    from ..db.dbapi import Rows

    with engine.begin() as conn:
        resolve_ids(Rows(conn.connection.driver_connection, conn.dialect.name), settings)


def resolve_ids(rows: "Rows", settings: "InstanceSettings") -> None:
    """Find (or create) this user's row and the current branch's id: once per process and database,
    on whichever connection comes first (SQLAlchemy's engine, or `db.dbapi`'s own)."""
    from .settings import UserSettings

    if _cache.get("db_url") == settings.db_url and _cache.get("branch") == settings.branch:
        return
    user = UserSettings.load_or_create()
    user_id = rows.scalar("SELECT id FROM users WHERE uid = :uid", {"uid": user.uid})
    if user_id is None:
        # another user may own the handle on a shared database: keep handles unique
        handle = user.handle
        if rows.scalar("SELECT id FROM users WHERE handle = :handle", {"handle": handle}) is not None:
            handle = f"{handle}-{user.uid}"
        user_id = rows.insert("users", {"uid": user.uid, "handle": handle, "name": user.name, "created_at": utcnow(),
                                        "created_by_id": None, "branch_id": 1})
    branch_id = rows.scalar("SELECT id FROM branches WHERE name = :name", {"name": settings.branch})
    _cache.update(user_id=user_id, branch_id=branch_id if branch_id is not None else 1, db_url=settings.db_url,
                  branch=settings.branch)


def ids_for(rows: "Rows", settings: "InstanceSettings") -> dict[str, Any]:
    """The cached user and branch ids, resolved on `rows` if this process has not done so yet."""
    resolve_ids(rows, settings)
    return _cache


def utcnow() -> "datetime":
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def forget() -> None:
    _cache.clear()


def current_user_id() -> int | None:
    if "user_id" not in _cache:
        db.engine()
    return _cache.get("user_id")


def current_branch_id() -> int:
    if "branch_id" not in _cache:
        db.engine()
    return _cache.get("branch_id", 1)


# registered when the setup package is imported, which any InstanceSettings implies (setup/__init__.py)
db.ENGINE_CREATED_HOOKS.append(on_engine_created)
db.CONFIGURE_HOOKS.append(forget)
