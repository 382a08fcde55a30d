"""Creating and upgrading an instance's database schema.

A new database is created from the models in one step (`create_all`) and stamped with the newest
Alembic revision, which is much faster than replaying migrations and gives the same schema (a test
checks that). An existing database whose revision is older is upgraded with Alembic, imported only then.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import MetaData
    from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD_REVISION = "0005"  # keep equal to the newest file in migrations/versions (a test checks)


def stored_revision(conn: "Connection") -> str | None:
    """The Alembic revision of the instance in this database (PostgreSQL: in its current schema only).

    A schema further down the search path (`public`, say) may hold another instance's tables; they are
    visible to unqualified queries but are not this instance.
    """
    from sqlalchemy import inspect, text

    schema = conn.execute(text("SELECT current_schema()")).scalar() if conn.dialect.name == "postgresql" else None
    if not inspect(conn).has_table("alembic_version", schema=schema):
        return None
    table = f'"{schema}".alembic_version' if schema else "alembic_version"
    return conn.execute(text(f"SELECT version_num FROM {table}")).scalar()


def create_schema(engine: "Engine") -> bool:
    """Create the schema if the database is empty; upgrade it if it is older. True if it was created."""
    from sqlalchemy import text

    from ..models import Base

    with engine.begin() as conn:
        revision = stored_revision(conn)
        if revision == HEAD_REVISION:
            return False
        if revision is not None:
            upgrade(engine)
            return False
        _create_tables(conn, Base.metadata)
        from ..query.search_index import create_search_indexes

        create_search_indexes(conn)
        _seed(conn)
        conn.execute(text("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": HEAD_REVISION})
    if engine.dialect.name == "postgresql":
        _postgres_extensions(engine)
    return True


def create_declared_tables(conn: "Connection", names: "tuple[str, ...]") -> None:
    """Create these tables (in this order) as the models declare them: what a migration that adds whole
    tables runs, so that migrated and new instances match (`tests/test_schema.py`)."""
    from sqlalchemy import MetaData
    from sqlalchemy.schema import AddConstraint, CreateIndex, CreateTable

    from ..models import Base

    # a copy that holds every table, so foreign keys to existing tables resolve
    copy = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(copy)
    for name in names:
        table = copy.tables[name]
        conn.execute(CreateTable(table, include_foreign_key_constraints=table.foreign_key_constraints))
        for index in table.indexes:
            conn.execute(CreateIndex(index))
    if conn.dialect.name != "sqlite":  # PostgreSQL leaves `use_alter` keys (created_by_id) out of CREATE TABLE
        for name in names:
            for fk in copy.tables[name].foreign_key_constraints:
                if fk.use_alter:
                    conn.execute(AddConstraint(fk))


def _create_tables(conn: "Connection", metadata: "MetaData") -> None:
    if conn.dialect.name != "sqlite":
        metadata.create_all(conn, checkfirst=False)  # only reached for a schema without tables of its own; public's are not ours
        return
    # SQLite can't ALTER a foreign key in later, and create_all drops cyclic ones at random (it depends on
    # hash order); SQLite doesn't need referenced tables to exist yet, so every constraint goes inline.
    # A fresh copy of the tables: creating a PostgreSQL schema in this process marks the shared
    # constraint objects "added later by ALTER", which would leave them out here.
    from sqlalchemy import MetaData
    from sqlalchemy.schema import CreateIndex, CreateTable

    copy = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(copy)
    for table in copy.tables.values():
        conn.execute(CreateTable(table, include_foreign_key_constraints=table.foreign_key_constraints))
        for index in table.indexes:
            conn.execute(CreateIndex(index))


def _seed(conn: "Connection") -> None:
    from sqlalchemy import insert, text

    from ..ids import base62
    from ..models import Branch

    conn.execute(
        insert(Branch),
        [
            {"id": i, "name": n, "uid": base62(12), "description": d, "branch_id": 1, "created_by_id": None}
            for i, n, d in ((1, "main", "live records"), (-1, "trash", "deleted records, restorable"), (0, "archive", "archived records"))
        ],
    )
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT setval(pg_get_serial_sequence('branches', 'id'), 1)"))


def _postgres_extensions(engine: "Engine") -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    # pg_trgm backs typo-tolerant search; a non-superuser may lack the right to create it
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except DBAPIError:
        pass


def upgrade(engine: "Engine", revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
