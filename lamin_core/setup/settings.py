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
from dataclasses import asdict, dataclass, field
from pathlib import Path

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


@dataclass
class InstanceSettings:
    name: str
    uid: str
    storage_root: str  # an absolute local path or an fsspec URI
    db_url: str  # a SQLAlchemy URL
    modules: list[str] = field(default_factory=list)
    branch: str = "main"  # the branch new records go to (`lamin switch`)
    # live OpenLineage forwarding (lineage/outbox.py): url, token, headers, backlog_cap, forward_ingested;
    # each `LAMIN_OPENLINEAGE_*` variable overrides its entry
    openlineage: dict = field(default_factory=dict)

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
            json.dump(asdict(self), f, indent=2)
        os.replace(tmp, path)

    @classmethod
    def load(cls, name: str) -> "InstanceSettings":
        path = _instance_file(name)
        if not path.exists():
            known = ", ".join(list_instances()) or "none"
            raise InstanceNotFoundError(f"no instance named {name!r} under {lamin_home()} (known: {known})")
        data = json.loads(path.read_text())
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class UserSettings:
    handle: str
    uid: str
    name: str | None = None

    @classmethod
    def load_or_create(cls) -> "UserSettings":
        from ..ids import base62

        path = lamin_home() / "user.json"
        if path.exists():
            return cls(**json.loads(path.read_text()))
        handle = os.environ.get("LAMIN_USER") or _login_name()
        user = cls(handle=handle, uid=base62(8))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(user), indent=2))
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
