"""The small registries: User, Branch, Storage."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import SQLRecord, uid_type


class User(SQLRecord):
    __tablename__ = "users"
    _uid_length = 8
    _name_field = "handle"

    handle: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str | None] = mapped_column(String(150), default=None)


class Branch(SQLRecord):
    """main (1), trash (-1), archive (0), and contribution branches made with `lamin switch -c`."""

    __tablename__ = "branches"
    _uid_length = 12

    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    # "standing" while records may land on it, "merged" once `lamin merge` moved them onto main
    status: Mapped[str] = mapped_column(String(20), default="standing", server_default="standing")


class Storage(SQLRecord):
    """A storage location: a local folder (on a host) or a bucket/prefix, identified by its root."""

    __tablename__ = "storages"
    _uid_length = 12
    _name_field = "root"

    root: Mapped[str] = mapped_column(uid_type(1000), unique=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    type: Mapped[str] = mapped_column(String(30))  # local, s3, gs, hf, memory, ... or a URI scheme
    region: Mapped[str | None] = mapped_column(String(64), default=None)
    host: Mapped[str | None] = mapped_column(String(255), default=None)  # for local roots
    instance_uid: Mapped[str | None] = mapped_column(String(12), default=None)  # managed by this instance
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", use_alter=True), default=None)
