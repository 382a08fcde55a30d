"""`lamin save PATH` and `lamin load UID`: scripts, notebooks, plans and data files in and out of the instance.

- A script (`.py`, `.R`, `.sh`, `.jl`) or notebook (`.ipynb`, `.Rmd`, `.qmd`) becomes a Transform, keyed
  like `ln.track()` keys it (the path relative to the git or project root), versioned by its source:
  saving unchanged source again changes nothing, changed source is a new version of the key.
- A plan (any file in a folder named `plans`, e.g. an agent's `.cursor/plans/x.md`, or any file with
  `--kind plan`) becomes an artifact with `kind="plan"` at key `.plans/<file name>` (or `--key`), on the
  current branch: `ln.track(plan=".plans/x.md")` finds it by that key. A changed plan is a new version.
- Any other file or folder becomes an artifact at `--key` (required: where it goes in storage), checked
  by the same key rules as `ln.Artifact(path, key=...)`.
- `lamin load` writes a transform's saved source back to disk under the name of its key, so that a new
  version can be made from it; it never overwrites a different file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

PLAN_FOLDERS = {"plans", ".plans"}
KINDS = ("plan",)
_UID_RE = re.compile(r"^[0-9A-Za-z]{12}([0-9A-Za-z]{4})?$")


def save_path(path: str, key: str | None = None, description: str | None = None, kind: str | None = None) -> int:
    """Register a script, notebook, plan or data file; prints what was saved. Errors raise (the CLI prints them)."""
    from ..tracking.source import SCRIPT_SUFFIXES

    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"no file or folder at {p}")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"--kind takes one of {', '.join(KINDS)}, not {kind!r}")
    if key is not None:
        from ..storage.keys import validate_key

        validate_key(key)
    if kind == "plan" or (p.is_file() and is_plan_file(p)):
        return _save_plan(p, key, description)
    if p.is_file() and p.suffix.lower() in SCRIPT_SUFFIXES:
        return _save_transform(p, key, description)
    return _save_data(p, key, description)


def is_plan_file(p: Path) -> bool:
    """A file in a folder named `plans` (`.cursor/plans/`, `.claude/plans/`, `.plans/`) is an agent's plan."""
    return p.parent.name.lower() in PLAN_FOLDERS


def _save_transform(p: Path, key: str | None, description: str | None) -> int:
    # plain rows (db.dbapi): `lamin save script.py` never imports SQLAlchemy
    from ..db import dbapi
    from ..lineage.transforms import upsert_transform_row
    from ..tracking.source import source_of

    source = source_of(p, key=key)

    def save(rows: dbapi.Rows) -> tuple[Any, int, int]:
        count = "SELECT count(*) FROM transforms WHERE key = :key"
        before = rows.scalar(count, {"key": source.key})
        transform = upsert_transform_row(
            rows, {"key": source.key, "kind": source.kind, "source_code": source.source_code, "description": description}
        )
        if description and not transform.description:
            rows.execute("UPDATE transforms SET description = :d WHERE id = :id", {"d": description, "id": transform.id})
        return transform, before, rows.scalar(count, {"key": source.key})

    transform, before, after = dbapi.write_retrying(save, [f"transform:/{source.key}"])
    state = "new version" if after != before and before else ("new" if after != before else "unchanged")
    print(f"→ saved {source.kind} {source.key!r} as transform {transform.uid} ({state})")
    return 0


def _save_plan(p: Path, key: str | None, description: str | None) -> int:
    # plain rows (artifacts/plain.py): the same rules and row as `ln.Artifact(p, ...).save()`, without SQLAlchemy
    from ..artifacts.plain import save_local
    from ..tracking.track import plan_key

    if not p.is_file():
        raise ValueError(f"a plan is one file, and {p} is a folder")
    artifact = save_local(p, key=key or plan_key(p), kind="plan", description=description or "plan")
    print(f"→ saved plan {artifact.key!r} as artifact {artifact.uid}{_on_branch()}{_state(artifact)}")
    return 0


def _save_data(p: Path, key: str | None, description: str | None) -> int:
    from ..artifacts.plain import save_local

    if key is None:
        raise ValueError(
            f"{p.name} is not a script, notebook or plan: pass --key KEY to save it as an artifact"
            f" (its path in storage, e.g. --key data/{p.name}), or --kind plan for a plan"
        )
    artifact = save_local(p, key=key, description=description)
    print(f"→ saved artifact {artifact.key!r} as {artifact.uid}{_on_branch()}{_state(artifact)}")
    return 0


def _state(artifact: Any) -> str:
    """What the save did, as the transform path says it: nothing (the content is stored), a version, new."""
    from ..artifacts.batch import StoredArtifact

    if isinstance(artifact, StoredArtifact):
        return " (unchanged: this content is saved already)"
    return " (new version)" if not artifact.uid.endswith("0000") else " (new)"


def _on_branch() -> str:
    from ..db import engine as db

    name = db.settings().branch
    return f" on branch {name!r}" if name != "main" else ""


def uid_from(uid_or_url: str) -> str:
    """`13VINnFk89PE0004`, or a URL ending with it (`https://…/transform/13VINnFk89PE0004`)."""
    candidate = uid_or_url.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if not _UID_RE.match(candidate):
        raise ValueError(f"{uid_or_url!r} is not a transform uid (12 or 16 letters and digits) or a URL ending with one")
    return candidate


def load_source(uid: str, into: str = ".") -> int:
    """Write the source of transform `uid` (its latest version for a 12-character stem) into folder `into`."""
    from ..db import dbapi

    stem_or_uid = uid_from(uid)
    columns = "SELECT uid, key, kind, source_code FROM transforms"
    with dbapi.read() as rows:
        if len(stem_or_uid) == 16:
            found = rows.one(f"{columns} WHERE uid = :uid", {"uid": stem_or_uid})
        else:  # uids are letters and digits (checked above): nothing to escape in the pattern
            found = rows.one(f"{columns} WHERE uid LIKE :stem ORDER BY uid DESC LIMIT 1", {"stem": stem_or_uid + "%"})
    if found is None:
        raise ValueError(f"no transform with uid {stem_or_uid!r} in this instance")
    t_uid, t_key, t_kind, source_code = found
    if not source_code:
        raise ValueError(f"transform {t_uid} ({t_key!r}) has no saved source code")
    name = Path(t_key).name if t_key else f"{t_uid}.py"
    target = Path(into).expanduser() / name
    if target.exists():
        if target.read_text(encoding="utf-8", errors="replace") == source_code:
            print(f"→ {t_kind} is here: {target} (unchanged)")
            return 0
        raise FileExistsError(f"{target} exists and differs from transform {t_uid}: move it away or use --into DIR")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source_code, encoding="utf-8")
    print(f"→ {t_kind} is here: {target}")
    return 0
