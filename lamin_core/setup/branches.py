"""Contribution branches: `lamin switch [-c] BRANCH`, `lamin merge BRANCH`.

New records go to the current branch; default queries see main and the current branch; merging moves a
branch's records onto main and marks the branch "merged". A merged branch is history: it cannot be switched
to (records would land on a branch that no longer takes part) nor merged again.
"""

from __future__ import annotations

from sqlalchemy import column, inspect, select, table, update
from sqlalchemy.orm import Session

from .. import ids
from ..db import engine as db
from ..models import ARCHIVE_BRANCH_ID, MAIN_BRANCH_ID, TRASH_BRANCH_ID, Branch

MERGED = "merged"
STANDING = "standing"
_NOT_WORKABLE = {TRASH_BRANCH_ID: "trash", ARCHIVE_BRANCH_ID: "archive"}


def switch(name: str, create: bool = False) -> Branch:
    """Make `name` the branch new records go to (`create=True` makes it first if it does not exist)."""
    with db.write() as s:
        branch = s.execute(select(Branch).where(Branch.name == name)).scalar_one_or_none()
        if branch is None:
            if not create:
                known = ", ".join(_standing_names(s))
                raise ValueError(f"no branch named {name!r} (known: {known}); use `lamin switch -c {name}` to create it")
            branch = Branch(name=name, uid=ids.base62(12), branch_id=MAIN_BRANCH_ID)
            s.add(branch)
            s.flush()
        elif branch.id in _NOT_WORKABLE:
            raise ValueError(f"{name!r} holds deleted or archived records and cannot be worked on; switch to main or a contribution branch")
        elif branch.status == MERGED:
            raise ValueError(
                f"branch {name!r} was merged into main and takes no new records; start a new one: `lamin switch -c NEW_NAME`"
            )
    _set_current(name)
    return branch


def merge(name: str) -> int:
    """Move every record of branch `name` onto main and mark the branch merged; returns how many moved.

    Every table with a `branch_id` is updated, found in the database itself, so that the registries of
    modules this process has not imported (bionty's) move too. All in one transaction: a failure moves nothing.
    """
    if name in ("main", "trash", "archive"):
        raise ValueError(f"{name!r} is not a contribution branch; merge a branch made with `lamin switch -c NAME`")
    moved = 0
    with db.write() as s:
        branch = s.execute(select(Branch).where(Branch.name == name)).scalar_one_or_none()
        if branch is None:
            known = ", ".join(_standing_names(s, contribution_only=True)) or "none"
            raise ValueError(f"no branch named {name!r} (branches to merge: {known})")
        if branch.status == MERGED:
            raise ValueError(f"branch {name!r} was already merged into main; there is nothing left to merge")
        for name_of_table in _tables_with_branch(s):
            t = table(name_of_table, column("branch_id"))
            result = s.execute(update(t).where(t.c.branch_id == branch.id).values(branch_id=MAIN_BRANCH_ID))
            moved += result.rowcount or 0
        branch.status = MERGED
    if db.settings().branch == name:  # whoever merges their own branch continues on main
        _set_current("main")
    return moved


def _tables_with_branch(s: Session) -> list[str]:
    insp = inspect(s.connection())
    return [
        name
        for name in insp.get_table_names()
        if name != Branch.__tablename__ and any(c["name"] == "branch_id" for c in insp.get_columns(name))
    ]


def _standing_names(s: Session, contribution_only: bool = False) -> list[str]:
    stmt = select(Branch.name).where(Branch.status != MERGED).order_by(Branch.id)
    if contribution_only:
        stmt = stmt.where(Branch.id > MAIN_BRANCH_ID)
    return list(s.execute(stmt).scalars())


def _set_current(name: str) -> None:
    settings = db.settings()
    settings.branch = name
    settings.save()
    db.configure(settings)
