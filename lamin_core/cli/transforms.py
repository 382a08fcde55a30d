"""`lamin save PATH` and `lamin load UID`: scripts, notebooks and plans in and out of the instance.

- A script (`.py`, `.R`, `.sh`, `.jl`) or notebook (`.ipynb`, `.Rmd`, `.qmd`) becomes a Transform, keyed
  like `ln.track()` keys it (the path relative to the git or project root), versioned by its source:
  saving unchanged source again changes nothing, changed source is a new version of the key.
- A plan (`.md`, e.g. an agent's `.cursor/plans/x.md`) becomes an artifact with `kind="plan"`, keyed by its
  path relative to the project root (a new version when its content changes), on the current branch.
- `lamin load` writes a transform's saved source back to disk under the name of its key, so that a new
  version can be made from it; it never overwrites a different file.
"""

from __future__ import annotations

import re
from pathlib import Path

PLAN_SUFFIXES = {".md", ".markdown"}
_UID_RE = re.compile(r"^[0-9A-Za-z]{12}([0-9A-Za-z]{4})?$")


def save_path(path: str, key: str | None = None, description: str | None = None) -> int:
    """Register a script, notebook or plan; prints what was saved. Errors raise (the CLI prints them)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"no file at {p}")
    if key is not None:
        from ..storage.keys import validate_key

        validate_key(key)
    if p.suffix.lower() in PLAN_SUFFIXES:
        return _save_plan(p, key, description)
    from ..db import engine as db
    from ..lineage.transforms import upsert_transform
    from ..models import Transform
    from ..tracking.source import source_of

    source = source_of(p, key=key)
    with db.write() as s:
        before = s.execute(_count_versions(source.key)).scalar()
        transform = upsert_transform(
            s, Transform(key=source.key, kind=source.kind, source_code=source.source_code, description=description)
        )
        if description and not transform.description:
            transform.description = description
        after = s.execute(_count_versions(source.key)).scalar()
    state = "new version" if after != before and before else ("new" if after != before else "unchanged")
    print(f"→ saved {source.kind} {source.key!r} as transform {transform.uid} ({state})")
    return 0


def _count_versions(key: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from ..models import Transform

    return select(func.count()).select_from(Transform).where(Transform.key == key)


def _save_plan(p: Path, key: str | None, description: str | None) -> int:
    from ..models import Artifact
    from ..tracking.source import project_root

    if key is None:
        resolved = p.resolve()
        root = project_root(resolved)
        key = resolved.relative_to(root).as_posix() if root is not None else f".plans/{p.name}"
    artifact = Artifact(p, key=key, kind="plan", description=description or "plan").save()
    print(f"→ saved plan {artifact.key!r} as artifact {artifact.uid}")
    return 0


def uid_from(uid_or_url: str) -> str:
    """`13VINnFk89PE0004`, or a URL ending with it (`https://…/transform/13VINnFk89PE0004`)."""
    candidate = uid_or_url.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if not _UID_RE.match(candidate):
        raise ValueError(f"{uid_or_url!r} is not a transform uid (12 or 16 letters and digits) or a URL ending with one")
    return candidate


def load_source(uid: str, into: str = ".") -> int:
    """Write the source of transform `uid` (its latest version for a 12-character stem) into folder `into`."""
    from sqlalchemy import select

    from ..db import engine as db
    from ..models import Transform

    stem_or_uid = uid_from(uid)
    with db.read() as s:
        if len(stem_or_uid) == 16:
            transform = s.execute(select(Transform).where(Transform.uid == stem_or_uid)).scalar()
        else:
            transform = s.execute(
                select(Transform).where(Transform.uid.startswith(stem_or_uid, autoescape=True)).order_by(Transform.uid.desc()).limit(1)
            ).scalar()
    if transform is None:
        raise ValueError(f"no transform with uid {stem_or_uid!r} in this instance")
    if not transform.source_code:
        raise ValueError(f"transform {transform.uid} ({transform.key!r}) has no saved source code")
    name = Path(transform.key).name if transform.key else f"{transform.uid}.py"
    target = Path(into).expanduser() / name
    if target.exists():
        if target.read_text(encoding="utf-8", errors="replace") == transform.source_code:
            print(f"→ {transform.kind} is here: {target} (unchanged)")
            return 0
        raise FileExistsError(f"{target} exists and differs from transform {transform.uid}: move it away or use --into DIR")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(transform.source_code, encoding="utf-8")
    print(f"→ {transform.kind} is here: {target}")
    return 0
