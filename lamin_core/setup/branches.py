"""Contribution branches: `lamin switch [-c] BRANCH`, `lamin merge BRANCH`.

New records go to the current branch; default queries see main and the current branch; merging moves a
branch's records onto main.
"""

from __future__ import annotations

from sqlalchemy import select, update

from .. import ids
from ..db import engine as db
from ..models import MAIN_BRANCH_ID, REGISTRIES, Branch


def switch(name: str, create: bool = False) -> Branch:
    with db.write() as s:
        branch = s.execute(select(Branch).where(Branch.name == name)).scalar_one_or_none()
        if branch is None:
            if not create:
                known = ", ".join(s.execute(select(Branch.name).order_by(Branch.id)).scalars())
                raise ValueError(f"no branch named {name!r} (known: {known}); use `lamin switch -c {name}` to create it")
            branch = Branch(name=name, uid=ids.base62(12), branch_id=MAIN_BRANCH_ID)
            s.add(branch)
            s.flush()
    settings = db.settings()
    settings.branch = name
    settings.save()
    db.configure(settings)
    return branch


def merge(name: str) -> int:
    """Move every record of branch `name` onto main; returns how many moved."""
    if name in ("main", "trash", "archive"):
        raise ValueError(f"{name!r} is not a contribution branch")
    moved = 0
    with db.write() as s:
        branch = s.execute(select(Branch).where(Branch.name == name)).scalar_one_or_none()
        if branch is None:
            raise ValueError(f"no branch named {name!r}")
        for model in REGISTRIES:
            if model is Branch:
                continue
            result = s.execute(update(model).where(model.branch_id == branch.id).values(branch_id=MAIN_BRANCH_ID))
            moved += result.rowcount or 0
    return moved
