"""The schema that `lamin init` creates equals the one Alembic's migrations build, on both backends."""

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from lamin_core.setup import schema
from lamin_core.testing import BACKENDS, _pg_execute, _pg_schema_url


def _describe(engine):
    insp = inspect(engine)
    tables = {}
    for t in sorted(insp.get_table_names()):
        cols = {c["name"]: (str(c["type"]).split(" COLLATE")[0], c["nullable"]) for c in insp.get_columns(t)}
        idx = sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(t))
        uq = sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(t))
        fks = sorted((tuple(f["constrained_columns"]), f["referred_table"]) for f in insp.get_foreign_keys(t))
        tables[t] = (cols, idx, uq, fks)
    return tables


def _engines(backend, tmp_path):
    if backend == "sqlite":
        return create_engine(f"sqlite:///{tmp_path/'a.db'}"), create_engine(f"sqlite:///{tmp_path/'b.db'}"), []
    import uuid

    names = [f"lamin_mig_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    # as instances have it (testing.make_instance): otherwise each path creates pg_trgm in its own schema, or not
    _pg_execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    for n in names:
        _pg_execute(f'CREATE SCHEMA "{n}"')
    url = lambda n: _pg_schema_url(n).replace("postgresql://", "postgresql+psycopg://")  # noqa: E731
    return create_engine(url(names[0])), create_engine(url(names[1])), names


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_build_the_same_schema_as_init(backend, tmp_path):
    created, migrated, pg_schemas = _engines(backend, tmp_path)
    try:
        assert schema.create_schema(created) is True
        schema.upgrade(migrated)
        assert _describe(created) == _describe(migrated)
        with migrated.connect() as conn:
            assert schema.stored_revision(conn) == schema.HEAD_REVISION
        # an instance at the newest revision is left alone
        assert schema.create_schema(created) is False
    finally:
        created.dispose()
        migrated.dispose()
        for n in pg_schemas:
            _pg_execute(f'DROP SCHEMA IF EXISTS "{n}" CASCADE')


def test_head_revision_is_the_newest_migration():
    versions = sorted(p.name for p in (Path(schema.__file__).parent / "migrations" / "versions").glob("*.py"))
    assert versions[-1].startswith(schema.HEAD_REVISION + "_")


def test_sqlite_schema_file_is_current():
    """`lamin init` creates SQLite instances from sqlite_schema.sql: it must match the models."""
    from lamin_core.setup import sqlite_fast

    def normalized(sql):  # SQLAlchemy orders constraints and indexes by hash: compare as sets of lines
        statements = sql.split(sqlite_fast.SEPARATOR)[1:]
        return sorted(tuple(sorted(line.strip().rstrip(",").strip() for line in st.splitlines())) for st in statements)

    assert normalized(sqlite_fast.SCHEMA_FILE.read_text()) == normalized(sqlite_fast.generate()), (
        "run `python -m lamin_core.setup.sqlite_fast` after changing the models or the search indexes"
    )


def test_fast_sqlite_init_equals_the_sqlalchemy_schema(tmp_path, monkeypatch):
    import lamin_core as ln
    from lamin_core.db import engine as database

    monkeypatch.setenv("LAMIN_HOME", str(tmp_path / "home"))
    settings = ln.setup.init(storage=tmp_path / "fast")
    database.configure(None)
    reference = create_engine(f"sqlite:///{tmp_path / 'ref.db'}")
    schema.create_schema(reference)
    fast = create_engine(settings.db_url)
    try:
        assert _describe(fast) == _describe(reference)
    finally:
        fast.dispose()
        reference.dispose()
