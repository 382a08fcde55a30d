"""Instance and user settings under `$LAMIN_HOME` (default `~/.lamin`).

Layout, plain JSON so that users and other tools can read it::

    $LAMIN_HOME/current-instance          the connected instance's name
    $LAMIN_HOME/instances/<name>.json      InstanceSettings
    $LAMIN_HOME/user.json                  UserSettings
    $LAMIN_HOME/cache/                     downloads of remote artifacts

The working directory never decides which instance is current (interfaces.md).
"""

from __future__ import annotations

import getpass
import json
import os
import re
from pathlib import Path
from typing import Any

from ..errors import InstanceNotFoundError, NoInstanceError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def lamin_home() -> Path:
    return Path(os.environ.get("LAMIN_HOME") or Path.home() / ".lamin")


def cache_dir() -> Path:
    return lamin_home() / "cache"


def validate_instance_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError(
            f"invalid instance name {name!r}: use letters, digits, '_', '-' or '.', starting with a letter or digit"
        )
    return name


class _Record:
    """A settings file's fields as attributes. Not a dataclass: `dataclasses` imports `inspect`, which cost
    a tracked script more than its whole database work."""

    FIELDS: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.FIELDS}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        shown = {f: _hide_password(v) if f == "db_url" else v for f, v in self.to_dict().items()}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


def _hide_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


class InstanceSettings(_Record):
    FIELDS = ("name", "uid", "storage_root", "db_url", "modules", "branch", "openlineage")

    def __init__(
        self,
        name: str,
        uid: str,
        storage_root: str,  # an absolute local path or an fsspec URI
        db_url: str,  # a SQLAlchemy URL
        modules: list[str] | None = None,
        branch: str = "main",  # the branch new records go to (`lamin switch`)
        # live OpenLineage forwarding (lineage/outbox.py): url, token, headers, backlog_cap, forward_ingested;
        # each `LAMIN_OPENLINEAGE_*` variable overrides its entry
        openlineage: dict | None = None,
    ) -> None:
        self.name = name
        self.uid = uid
        self.storage_root = storage_root
        self.db_url = db_url
        self.modules = list(modules or [])
        self.branch = branch
        self.openlineage = dict(openlineage or {})

    @property
    def dialect(self) -> str:
        return "postgresql" if self.db_url.startswith("postgresql") else "sqlite"

    def save(self) -> None:
        path = _instance_file(self.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        # the URL may carry a database password: readable by the owner only
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.to_dict(), f, indent=2)
        os.replace(tmp, path)

    @classmethod
    def load(cls, name: str) -> "InstanceSettings":
        path = _instance_file(name)
        if not path.exists():
            known = ", ".join(list_instances()) or "none"
            raise InstanceNotFoundError(f"no instance named {name!r} under {lamin_home()} (known: {known})")
        data = json.loads(path.read_text())
        return cls(**{k: v for k, v in data.items() if k in cls.FIELDS})


class UserSettings(_Record):
    FIELDS = ("handle", "uid", "name")

    def __init__(self, handle: str, uid: str, name: str | None = None) -> None:
        self.handle = handle
        self.uid = uid
        self.name = name

    @classmethod
    def load_or_create(cls) -> "UserSettings":
        from ..ids import base62

        path = lamin_home() / "user.json"
        if path.exists():
            return cls(**json.loads(path.read_text()))
        handle = os.environ.get("LAMIN_USER") or _login_name()
        user = cls(handle=handle, uid=base62(8))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(user.to_dict(), indent=2))
        return user


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "anonymous"


def _instance_file(name: str) -> Path:
    return lamin_home() / "instances" / f"{validate_instance_name(name)}.json"


def list_instances() -> list[str]:
    folder = lamin_home() / "instances"
    return sorted(p.stem for p in folder.glob("*.json")) if folder.exists() else []


def current_instance_name() -> str | None:
    path = lamin_home() / "current-instance"
    if not path.exists():
        return None
    return path.read_text().strip() or None


def set_current_instance(name: str | None) -> None:
    path = lamin_home() / "current-instance"
    path.parent.mkdir(parents=True, exist_ok=True)
    if name is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(name + "\n")


def load_current() -> InstanceSettings:
    # LAMIN_INSTANCE lets one process (a cluster job, a test) pick an instance without touching the shared file
    name = os.environ.get("LAMIN_INSTANCE") or current_instance_name()
    if name is None:
        raise NoInstanceError(f"LAMIN_HOME={lamin_home()}")
    return InstanceSettings.load(name)
