"""Registry.search() and lookup() on both backends: ranking, typos, chaining, index maintenance, migrations."""

from __future__ import annotations

import pytest
from test_query_data import build_graph, make_artifact

import lamin_core as ln


@pytest.fixture
def g(instance, tmp_path):
    return build_graph(tmp_path)


def found(qs) -> list[str]:
    return [r.key for r in qs]


def test_ranking_exact_then_prefix_then_contains(g, tmp_path):
    for key in ("iris", "iris_extended/table.csv", "data/old_iris_notes.txt", "data/virisimilar.txt"):
        make_artifact(tmp_path, key)
    res = found(ln.Artifact.search("iris"))
    assert res[0] == "iris"  # exact
    assert res[1] == "my_datasets/iris.parquet"  # a file named iris
    assert res[2] == "iris_extended/table.csv"  # starts with
    assert res.index("my_datasets/iris.parquet") < res.index("data/virisimilar.txt")  # a file name beats mid-word
    assert res.index("data/old_iris_notes.txt") < res.index("data/virisimilar.txt")  # a word start beats mid-word
    assert "other/x.txt" not in res
    # the exact key, whatever else contains it
    assert found(ln.Artifact.search("my_datasets/Iris_v2.csv"))[0] == "my_datasets/Iris_v2.csv"
    # a match in the key beats one in the description only
    make_artifact(tmp_path, "flowers.csv", description="all about iris")
    res = found(ln.Artifact.search("iris"))
    assert res.index("my_datasets/iris.parquet") < res.index("flowers.csv")


def test_typos_are_still_found(g):
    assert found(ln.Transform.search("tutorail"))[:1] == ["tutorial.ipynb"]
    assert found(ln.Transform.search("ingets"))[:1] == ["pipelines/ingest.py"]
    assert found(ln.Artifact.search("speciel charactrs"))[:1] == ["raw/a_b%c*?[x].txt"]  # in the description
    assert [r.name for r in ln.Run.search("ingest 2")][:1] == ["ingest-2"]
    assert found(ln.Artifact.search("zzzqqq")) == []


def test_search_chains_with_filter_and_returns_a_query_set(g):
    res = ln.Artifact.filter(suffix=".csv").search("iris")
    assert found(res) == ["my_datasets/Iris_v2.csv"]
    assert found(ln.Artifact.filter(run__transform=g.t_nb).search("iris")) == ["my_datasets/iris.parquet", "my_datasets/Iris_v2.csv"]
    res = ln.Artifact.search("iris")
    assert res.first().key == "my_datasets/iris.parquet"
    assert list(res.to_dataframe()["key"])[:2] == ["my_datasets/iris.parquet", "my_datasets/Iris_v2.csv"]
    assert found(res.filter(suffix=".csv")) == ["my_datasets/Iris_v2.csv"]
    assert res.count() == 2 and len(ln.Artifact.search("iris", limit=1)) == 1
    assert found(ln.Artifact.search("flowers", field="description")) == ["my_datasets/iris.parquet"]
    assert found(ln.Artifact.search("flowers", field="key")) == []
    assert found(ln.Transform.search("TUTORIAL")) == ["tutorial.ipynb"]  # any case
    assert len(ln.Artifact.search("")) == 5
    with pytest.raises(ln.errors.FieldError, match="Did you mean 'description'"):
        ln.Artifact.search("x", field="descriptoin")


def test_search_other_registries(g, instance):
    user = ln.User.filter().first()
    assert [u.id for u in ln.User.search(user.handle)][:1] == [user.id]
    assert len(ln.Storage.search(str(instance.storage_root)[-12:])) == 1
    assert [b.name for b in ln.Branch.search("trash")][:1] == ["trash"]
    assert [r.id for r in ln.Run.search("first run")][:1] == [g.run_nb.id]


def test_search_follows_renames_trash_and_deletes(g, tmp_path):
    a = make_artifact(tmp_path, "renamed/before.txt")
    assert found(ln.Artifact.search("before")) == ["renamed/before.txt"]
    a.key = "renamed/after.txt"
    a.save()
    assert found(ln.Artifact.search("before")) == []
    assert found(ln.Artifact.search("after")) == ["renamed/after.txt"]
    a.delete()  # trash: hidden from default queries, searchable on the trash branch
    assert found(ln.Artifact.search("after")) == []
    assert found(ln.Artifact.filter(branch__name="trash").search("after")) == ["renamed/after.txt"]
    a.delete(permanent=True)
    assert found(ln.Artifact.filter().all_branches().search("after")) == []


def test_lookup_gives_attributes(g):
    lk = ln.Transform.lookup()
    assert lk.tutorial_ipynb.id == g.t_nb.id
    assert lk.pipelines_ingest_py.key == "pipelines/ingest.py"
    assert "tutorial_ipynb" in lk.dict() and "Lookup of Transform" in repr(lk)
    assert "tutorial_ipynb" in dir(lk)  # what auto-complete offers
    with pytest.raises(AttributeError, match="did you mean 'tutorial_ipynb'"):
        lk.tutorial_ipnb
    assert ln.Artifact.lookup().my_datasets_iris_parquet.id == g.iris.id
    assert ln.Run.lookup(field="name").ingest_2.id == g.run_py.id
    with pytest.raises(ln.errors.FieldError):
        ln.Run.lookup(field="nope")


def test_upgraded_instance_indexes_existing_rows(instance, tmp_path):
    """An instance created before the search indexes existed gets them, filled, on upgrade."""
    import uuid
    from datetime import datetime, timezone

    from sqlalchemy import create_engine, insert, text

    from lamin_core import ids
    from lamin_core.models import Transform
    from lamin_core.query.search_index import INDEXED
    from lamin_core.setup import schema
    from lamin_core.testing import _pg_execute, _pg_schema_url

    if instance.backend == "sqlite":
        url, name = f"sqlite:///{tmp_path / 'old.db'}", None
    else:
        name = f"lamin_old_{uuid.uuid4().hex[:10]}"
        _pg_execute(f'CREATE SCHEMA "{name}"')
        url = _pg_schema_url(name).replace("postgresql://", "postgresql+psycopg://")
    eng = create_engine(url)
    try:
        schema.upgrade(eng, "0001")
        now = datetime.now(timezone.utc)
        with eng.begin() as conn:
            # the branches table as revision 0001 has it (later revisions add columns the model declares)
            conn.execute(
                text("INSERT INTO branches (id, uid, name, branch_id, created_at) VALUES (1, :uid, 'main', 1, :now)"),
                {"uid": ids.base62(12), "now": now},
            )
            conn.execute(insert(Transform.__table__).values(
                uid=ids.base62(16), key="legacy/pipeline.nf", kind="pipeline", is_latest=True, branch_id=1,
                created_by_id=None, created_at=now, updated_at=now,
            ))
        schema.upgrade(eng)
        with eng.connect() as conn:
            if instance.backend == "sqlite":
                sql = "SELECT rowid FROM transforms_fts WHERE transforms_fts MATCH '\"legacy\"'"
                assert len(conn.exec_driver_sql(sql).all()) == 1
            else:
                idx = conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND right(indexname, 5) = '_trgm'").scalars().all()
                assert len(idx) == sum(len(c) for c in INDEXED.values())
    finally:
        eng.dispose()
        if name:
            _pg_execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
