"""Who is writing, and to which branch: resolved once per connection, then read from a cache.

Column defaults (`created_by_id`, `branch_id`) run inside a flush, where a query would be unsafe, so the
ids are looked up when the engine is first created (see `db.engine`) and cached here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..db import engine as db

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .settings import InstanceSettings

_cache: dict[str, int] = {}


def on_engine_created(engine: "Engine", settings: "InstanceSettings") -> None:
    branch = settings.branch
    from sqlalchemy import insert, select

    from ..models import Branch, User
    from .settings import UserSettings

    user = UserSettings.load_or_create()
    with engine.connect() as conn:
        user_id = conn.execute(select(User.id).where(User.uid == user.uid)).scalar()
        if user_id is None:
            # another user may own the handle on a shared database: keep handles unique
            handle = user.handle
            if conn.execute(select(User.id).where(User.handle == handle)).scalar() is not None:
                handle = f"{handle}-{user.uid}"
            conn.execute(insert(User).values(uid=user.uid, handle=handle, name=user.name, created_by_id=None, branch_id=1))
            user_id = conn.execute(select(User.id).where(User.uid == user.uid)).scalar_one()
        branch_id = conn.execute(select(Branch.id).where(Branch.name == branch)).scalar()
        conn.commit()
    _cache["user_id"] = user_id
    _cache["branch_id"] = branch_id if branch_id is not None else 1


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
