"""What every registry shares: the declarative base, common columns, and the Django-like class API.

Every record has an integer `id` (joins), a base62 `uid` (what users and other instances see),
`created_at`, `created_by` (a User), the `run` that created it, and the `branch` it lives on
(main, trash, archive, or a contribution branch). The registries' own modules add their columns.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import DateTime, ForeignKey, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

from .. import ids

if TYPE_CHECKING:
    from ..query.queryset import QuerySet

# branch ids as LaminDB has them: records on main are live, trash is where delete() moves them
ARCHIVE_BRANCH_ID = 0
MAIN_BRANCH_ID = 1
TRASH_BRANCH_ID = -1

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def uid_type(length: int) -> String:
    # binary collation on PostgreSQL so that uid/key prefix queries can use a plain b-tree index
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class _class_or_instance_method:
    """`Artifact.describe()` and `artifact.describe()` both work, as in LaminDB."""

    def __init__(self, func: Any) -> None:
        self.func = func

    def __get__(self, obj: Any, cls: type) -> Any:
        import functools

        return functools.partial(self.func, cls if obj is None else obj)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True)}


class SQLRecord(Base):
    """A registry: a table whose rows users create, query, save and delete like Django models."""

    __abstract__ = True
    _uid_length: ClassVar[int] = 12
    _name_field: ClassVar[str] = "name"  # what lookup() and search() use first
    # names that queries follow as paths: `ulabels` -> `linked_ulabels` (see models/annotations.py)
    _query_aliases: ClassVar[dict[str, str]] = {}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @declared_attr
    def uid(cls) -> Mapped[str]:
        return mapped_column(uid_type(cls._uid_length), unique=True, default=lambda: ids.base62(cls._uid_length))

    @declared_attr
    def created_by_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("users.id", use_alter=True), nullable=True, default=_current_user_id)

    @declared_attr
    def branch_id(cls) -> Mapped[int]:
        # no index: nearly every row is on main, and SQLite would pick it over selective indexes
        return mapped_column(ForeignKey("branches.id"), default=_current_branch_id)

    @declared_attr
    def created_by(cls) -> Mapped[Any]:
        remote = {"remote_side": "User.id"} if cls.__name__ == "User" else {}
        return relationship("User", foreign_keys=lambda: [cls.created_by_id], viewonly=True, **remote)

    @declared_attr
    def branch(cls) -> Mapped[Any]:
        remote = {"remote_side": "Branch.id"} if cls.__name__ == "Branch" else {}
        return relationship("Branch", foreign_keys=lambda: [cls.branch_id], viewonly=True, **remote)

    # ---- the Django-like class API; the query module does the work ----

    @classmethod
    def objects(cls) -> "QuerySet":
        from ..query.queryset import QuerySet

        return QuerySet(cls)

    @classmethod
    def filter(cls, *expressions: Any, **lookups: Any) -> "QuerySet":
        return cls.objects().filter(*expressions, **lookups)

    @classmethod
    def exclude(cls, *expressions: Any, **lookups: Any) -> "QuerySet":
        return cls.objects().exclude(*expressions, **lookups)

    @classmethod
    def get(cls, idlike: int | str | None = None, **lookups: Any) -> Any:
        return cls.objects().get(idlike, **lookups)

    @classmethod
    def to_dataframe(cls, limit: int | None = 100, **kwargs: Any) -> Any:
        qs = cls.objects().order_by("-id")
        return (qs[:limit] if limit else qs).to_dataframe(**kwargs)

    df = to_dataframe

    @classmethod
    def search(cls, string: str, **kwargs: Any) -> "QuerySet":
        return cls.objects().search(string, **kwargs)

    @classmethod
    def lookup(cls, field: str | None = None) -> Any:
        return cls.objects().lookup(field)

    # ---- instances ----

    def save(self, *args: Any, **kwargs: Any) -> Any:
        from ..db import engine as db

        with db.write() as s:
            if getattr(self, "run_id", None) is None and hasattr(type(self), "run_id"):
                from ..tracking.context import current_run_id

                self.run_id = current_run_id()  # type: ignore[attr-defined]
            s.add(self)
        return self

    def delete(self, permanent: bool | None = None) -> None:
        """Move to the trash; `permanent=True` removes the record."""
        from ..db import engine as db

        with db.write() as s:
            if permanent or self.branch_id == TRASH_BRANCH_ID:
                s.delete(self)
            else:
                self.branch_id = TRASH_BRANCH_ID
                s.add(self)

    def restore(self) -> Any:
        from ..db import engine as db

        with db.write() as s:
            self.branch_id = MAIN_BRANCH_ID
            s.add(self)
        return self

    @_class_or_instance_method
    def describe(self_or_cls: Any, *args: Any, **kwargs: Any) -> Any:
        """On a record: a tree of its fields and relations. On a registry class: its fields and their types."""
        from ..query.describe import describe_record, describe_registry

        if isinstance(self_or_cls, type):
            return describe_registry(self_or_cls, *args, **kwargs)
        return describe_record(self_or_cls, *args, **kwargs)

    def __repr__(self) -> str:
        fields = []
        for col in self.__table__.columns:  # type: ignore[attr-defined]
            value = self.__dict__.get(col.key)
            if value is None or col.key in ("source_code",):
                continue
            if isinstance(value, datetime):
                value = value.strftime("%Y-%m-%d %H:%M:%S")
            text = repr(value)
            fields.append(f"{col.key}={text if len(text) < 80 else text[:77] + '...'}")
        return f"{type(self).__name__}({', '.join(fields)})"


def _current_user_id() -> int | None:
    from ..setup.user import current_user_id

    return current_user_id()


def _current_branch_id() -> int:
    from ..setup.user import current_branch_id

    return current_branch_id()
