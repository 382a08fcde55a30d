"""Creating, connecting to, describing and deleting instances: what `lamin init/connect/info/delete` do."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import ids
from ..db import engine as database
from ..storage.managed import MANAGED_DIR, SQLITE_NAME  # the .lamindb folder of a storage root
from ..storage.paths import is_local, normalize_root
from .settings import (
    InstanceSettings,
    current_instance_name,
    lamin_home,
    list_instances,
    set_current_instance,
    validate_instance_name,
)


def default_name(storage_root: str, db_url: str | None) -> str:
    if db_url:
        name = urlsplit(db_url).path.strip("/") or "postgres"
    else:
        name = storage_root.rstrip("/").rsplit("/", 1)[-1] or "lamin"
    return "".join(c if c.isalnum() or c in "_.-" else "-" for c in name).strip("-.") or "lamin"


def init(
    storage: str | os.PathLike[str],
    db: str | None = None,
    name: str | None = None,
    modules: str | list[str] | None = None,
) -> InstanceSettings:
    """Create an instance (or reconnect to the one that lives there) and make it the current one."""
    root = normalize_root(str(storage))
    name = validate_instance_name(name or default_name(root, db))
    if db is not None and not db.startswith(("postgresql://", "postgresql+psycopg://", "sqlite:///")):
        raise ValueError(f"--db must be a postgresql:// or sqlite:/// URL, not {redact_url(db)!r}")
    if is_local(root):
        Path(root, MANAGED_DIR).mkdir(parents=True, exist_ok=True)
        db_url = db or db_sqlite_url(root)
    else:
        db_url = db or db_sqlite_url(str(lamin_home() / "instances" / name))
    module_list = [m for m in (modules.split(",") if isinstance(modules, str) else modules or []) if m]
    settings = InstanceSettings(name=name, uid=ids.base62(12), storage_root=root, db_url=db_url, modules=module_list)

    if db is None and is_local(root) and _create_sqlite_fast(settings):
        return settings
    from .schema import create_schema

    eng = database.make_engine(db_url)
    try:
        create_schema(eng)
    finally:
        eng.dispose()
    settings.save()
    set_current_instance(name)
    database.configure(settings)
    _register_default_storage(settings)
    return settings


def _create_sqlite_fast(settings: InstanceSettings) -> bool:
    """The default instance, without importing SQLAlchemy (see sqlite_fast.py). False: take the slow path."""
    from .settings import UserSettings
    from .sqlite_fast import NeedsUpgrade, create_instance_db

    user = UserSettings.load_or_create()
    db_path = settings.db_url[len("sqlite:///") :]
    try:
        settings.uid = create_instance_db(db_path, settings.storage_root, settings.uid, user.uid, user.handle)
    except NeedsUpgrade:
        return False
    settings.save()
    set_current_instance(settings.name)
    database.configure(settings)
    return True


def db_sqlite_url(folder: str) -> str:
    managed = Path(folder) / MANAGED_DIR
    managed.mkdir(parents=True, exist_ok=True)
    return database.sqlite_url(str(managed / SQLITE_NAME))


def _register_default_storage(settings: InstanceSettings) -> None:
    """Register the storage root; re-running init on an existing instance keeps that instance's uid."""
    from ..artifacts.save import get_or_create_storage

    with database.write() as s:
        storage = get_or_create_storage(s, settings.storage_root)
        if storage.instance_uid is None:
            storage.instance_uid = settings.uid
    if storage.instance_uid != settings.uid:
        settings.uid = storage.instance_uid
        settings.save()


def storage_type(root: str) -> str:
    return "local" if is_local(root) else root.split("://", 1)[0]


def connect(name: str | None = None) -> InstanceSettings:
    """Make `name` the current instance (or re-read the current one)."""
    name = name or current_instance_name()
    if name is None:
        from ..errors import NoInstanceError

        raise NoInstanceError()
    settings = InstanceSettings.load(name)
    set_current_instance(name)
    database.configure(settings)
    database.engine()  # fail here, with the instance's name in view, if the database is unreachable
    return settings


def delete(name: str, force: bool = False) -> None:
    """Remove an instance's settings, its SQLite file and its managed data. PostgreSQL data is kept."""
    if not force:
        raise ValueError(f"deleting instance {name!r} removes its database and managed data: pass force=True (--force)")
    settings = InstanceSettings.load(name)
    if current_instance_name() == name:
        set_current_instance(None)
        database.configure(None)
    if settings.dialect == "sqlite" and is_local(settings.storage_root):
        shutil.rmtree(Path(settings.storage_root) / MANAGED_DIR, ignore_errors=True)
    shutil.rmtree(lamin_home() / "instances" / name, ignore_errors=True)
    (lamin_home() / "instances" / f"{name}.json").unlink(missing_ok=True)


def info() -> dict[str, Any]:
    settings = database.settings()
    return {
        "instance": settings.name,
        "uid": settings.uid,
        "storage": settings.storage_root,
        "db": redact_url(settings.db_url),
        "modules": ",".join(settings.modules) or "-",
        "branch": settings.branch,
        "lamin_home": str(lamin_home()),
        "instances": ", ".join(list_instances()),
    }


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url
