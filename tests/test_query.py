"""Django-style queries on both backends: lookups, traversal, query set API, errors, branches, SQL safety."""

from __future__ import annotations

import datetime as dt

import pytest
from test_query_data import build_graph, keys, make_artifact

import lamin_core as ln
from lamin_core.errors import DoesNotExist, FieldError, MultipleResultsFound


@pytest.fixture
def g(instance, tmp_path):
    return build_graph(tmp_path)


def test_field_lookups(g):
    A = ln.Artifact
    assert keys(A.filter(key="other/x.txt")) == ["other/x.txt"]
    assert keys(A.filter(key__exact="other/x.txt")) == ["other/x.txt"]
    assert keys(A.filter(key__iexact="MY_DATASETS/IRIS.PARQUET")) == ["my_datasets/iris.parquet"]
    # contains/startswith/endswith are case-sensitive on both backends (SQLite's LIKE is not)
    assert keys(A.filter(key__contains="iris")) == ["my_datasets/iris.parquet"]
    assert keys(A.filter(key__contains="Iris")) == ["my_datasets/Iris_v2.csv"]
    assert keys(A.filter(key__icontains="iris")) == ["my_datasets/Iris_v2.csv", "my_datasets/iris.parquet"]
    assert keys(A.filter(key__startswith="my_datasets/I")) == ["my_datasets/Iris_v2.csv"]
    assert keys(A.filter(key__startswith="MY_")) == []
    assert keys(A.filter(key__istartswith="MY_datasets/i")) == ["my_datasets/Iris_v2.csv", "my_datasets/iris.parquet"]
    assert keys(A.filter(key__endswith=".CSV")) == []
    assert keys(A.filter(key__iendswith=".CSV")) == ["my_datasets/Iris_v2.csv"]
    # wildcards of LIKE and GLOB are plain characters
    assert keys(A.filter(key__contains="_b%c*?[")) == ["raw/a_b%c*?[x].txt"]
    assert keys(A.filter(key__contains="%")) == ["raw/a_b%c*?[x].txt"]
    assert keys(A.filter(key__startswith="raw/a_")) == ["raw/a_b%c*?[x].txt"]
    assert keys(A.filter(key__startswith="raw/a%")) == []
    assert keys(A.filter(key__endswith="?[x].txt")) == ["raw/a_b%c*?[x].txt"]
    assert keys(A.filter(key__icontains="_B%C*?[")) == ["raw/a_b%c*?[x].txt"]
    assert keys(A.filter(key__in=["other/x.txt", "unlinked.txt", "nope"])) == ["other/x.txt", "unlinked.txt"]
    assert keys(A.filter(key__in=[])) == []
    ids = sorted(a.id for a in A.filter())
    assert keys(A.filter(id__gt=ids[3])) == ["unlinked.txt"]
    assert len(A.filter(id__gte=ids[3])) == 2
    assert len(A.filter(id__lt=ids[1])) == 1
    assert len(A.filter(id__lte=ids[1])) == 2
    assert len(A.filter(id__range=(ids[1], ids[3]))) == 3
    assert keys(A.filter(description__isnull=True)) == ["my_datasets/Iris_v2.csv", "other/x.txt"]
    assert len(A.filter(description__isnull=False)) == 3
    assert keys(A.filter(description=None)) == ["my_datasets/Iris_v2.csv", "other/x.txt"]
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    assert len(A.filter(created_at__lt=soon)) == 5 and len(A.filter(created_at__gt=soon)) == 0


def test_traversal_forward_reverse_and_record_values(g):
    A, T, R = ln.Artifact, ln.Transform, ln.Run
    assert keys(A.filter(transform__description__icontains="tutor")) == ["my_datasets/Iris_v2.csv", "my_datasets/iris.parquet"]
    assert keys(A.filter(run__transform=g.t_py)) == ["other/x.txt", "raw/a_b%c*?[x].txt"]
    assert keys(A.filter(transform=g.t_nb)) == ["my_datasets/Iris_v2.csv", "my_datasets/iris.parquet"]
    assert keys(A.filter(run=g.run_py)) == ["other/x.txt", "raw/a_b%c*?[x].txt"]
    assert keys(A.filter(run=None)) == ["unlinked.txt"]
    assert keys(A.filter(run__isnull=True)) == ["unlinked.txt"]
    assert keys(A.filter(run__in=R.filter(transform=g.t_nb))) == ["my_datasets/Iris_v2.csv", "my_datasets/iris.parquet"]
    assert keys(A.filter(run__in=[g.run_py])) == ["other/x.txt", "raw/a_b%c*?[x].txt"]
    assert [t.key for t in T.filter(runs__output_artifacts__key__startswith="my_datasets/")] == ["tutorial.ipynb"]
    # many-to-many both ways, and the aliases users type
    assert [r.id for r in R.filter(input_artifacts=g.iris)] == [g.run_py.id]
    assert [r.id for r in R.filter(inputs__key__endswith=".parquet")] == [g.run_py.id]
    assert keys(A.filter(input_of_runs__transform__kind="script")) == ["my_datasets/iris.parquet"]
    assert keys(A.filter(input_of=g.run_py)) == ["my_datasets/iris.parquet"]
    assert [r.id for r in R.filter(outputs__key="other/x.txt")] == [g.run_py.id]
    # self-referential relations, three hops deep
    assert [r.id for r in R.filter(initiated_by_run__transform__key="tutorial.ipynb")] == [g.run_py.id]
    assert [r.id for r in R.filter(child_runs__transform=g.t_py)] == [g.run_nb.id]
    assert keys(A.filter(run__initiated_by_run__transform__runs__name="first run")) == ["other/x.txt", "raw/a_b%c*?[x].txt"]
    assert [r.id for r in R.filter(input_artifacts__isnull=True)] == [g.run_nb.id]
    # a to-many filter never duplicates rows
    assert T.filter(runs__output_artifacts__key__contains="/").count() == 2
    # foreign-key columns take records too
    assert keys(A.filter(run_id=g.run_nb)) == ["my_datasets/Iris_v2.csv", "my_datasets/iris.parquet"]


def test_exclude_keeps_null_like_django(g):
    A = ln.Artifact
    assert keys(A.exclude(run__transform=g.t_nb)) == ["other/x.txt", "raw/a_b%c*?[x].txt", "unlinked.txt"]
    assert "my_datasets/Iris_v2.csv" in keys(A.exclude(description__icontains="iris"))  # NULL description stays
    assert keys(A.filter(key__startswith="my_").exclude(key__endswith=".csv")) == ["my_datasets/iris.parquet"]


def test_query_set_api(g):
    A = ln.Artifact
    qs = A.filter(key__contains="/").order_by("-key")
    assert [a.key for a in qs] == ["raw/a_b%c*?[x].txt", "other/x.txt", "my_datasets/iris.parquet", "my_datasets/Iris_v2.csv"]
    assert qs.first().key == "raw/a_b%c*?[x].txt" and qs.last().key == "my_datasets/Iris_v2.csv"
    assert [a.key for a in qs[1:3]] == ["other/x.txt", "my_datasets/iris.parquet"]
    assert qs[1].key == "other/x.txt" and qs[-1].key == "my_datasets/Iris_v2.csv"
    assert [a.key for a in qs[1:][:1]] == ["other/x.txt"]
    with pytest.raises(IndexError):
        qs[10]
    assert qs.count() == 4 and len(qs) == 4 and qs.exists() and bool(qs)
    assert not A.filter(key="nope").exists() and A.filter(key="nope").first() is None
    assert qs.filter(key__startswith="my").filter(suffix=".csv").one().key == "my_datasets/Iris_v2.csv"
    assert A.filter(key="nope").one_or_none() is None
    with pytest.raises(MultipleResultsFound):
        qs.one()
    with pytest.raises(DoesNotExist):
        A.filter(key="nope").one()
    assert qs.to_list("key")[:2] == ["raw/a_b%c*?[x].txt", "other/x.txt"]
    assert [a.key for a in qs.to_list()] == qs.to_list("key")
    assert qs.all().count() == 4
    df = qs.to_dataframe()
    assert list(df["key"]) == qs.to_list("key") and df.index.name == "id"
    assert str(df["created_at"].dtype).startswith("datetime64") and df["is_latest"].dtype == bool
    df = A.filter(key__startswith="my").order_by("key").to_dataframe(include=["transform__key", "run__name", "storage__root"])
    assert list(df["transform__key"]) == ["tutorial.ipynb"] * 2 and list(df["run__name"]) == ["first run"] * 2
    assert len(A.to_dataframe()) == 5 and list(ln.Run.filter(name="ingest-2").to_dataframe()["params"]) == [{"n": 3}]
    with pytest.raises(TypeError, match="sliced"):
        qs[:2].filter(key="x")
    assert "QuerySet Artifact" in repr(qs)


def test_get_by_uid_prefix_and_fields(g):
    A = ln.Artifact
    assert A.get(g.iris.uid).id == g.iris.id
    assert A.get(g.iris.uid[:10]).id == g.iris.id
    assert A.get(g.iris.id).id == g.iris.id
    assert A.get(key="my_datasets/iris.parquet").id == g.iris.id
    assert ln.Transform.get(key="tutorial.ipynb", kind="notebook").id == g.t_nb.id
    with pytest.raises(DoesNotExist, match=r"no Artifact with key='nope'"):
        A.get(key="nope")
    with pytest.raises(MultipleResultsFound, match="several Artifact records match key__startswith='my_'"):
        A.get(key__startswith="my_")
    with pytest.raises(ValueError, match="at least 4"):
        A.get("ab")
    ln.Transform("one.py", kind="script", uid="Zq9x" + "a" * 8 + "0000").save()
    ln.Transform("two.py", kind="script", uid="Zq9x" + "b" * 8 + "0000").save()
    with pytest.raises(MultipleResultsFound, match="several Transform records match 'Zq9x'"):
        ln.Transform.get("Zq9x")
    assert ln.Transform.get("Zq9xbbbb").key == "two.py"
    with pytest.raises(DoesNotExist, match="no Transform with 'Zq9xcccc'"):
        ln.Transform.get("Zq9xcccc")
    with pytest.raises(FieldError, match="Did you mean 'key'"):
        A.get(kee="x")


def test_errors_name_the_problem(g):
    A = ln.Artifact
    with pytest.raises(FieldError) as e:
        A.filter(descripton="x")
    msg = str(e.value)
    assert "Artifact has no field 'descripton'" in msg and "Did you mean 'description'" in msg
    assert "Valid fields:" in msg and "key" in msg and "transform" in msg
    with pytest.raises(FieldError, match=r"unknown lookup 'startwith' on Artifact.key.*Did you mean 'startswith'"):
        A.filter(key__startwith="x")
    with pytest.raises(FieldError, match=r"Transform has no field 'descriptio'.*Did you mean 'description'"):
        A.filter(transform__descriptio__icontains="x")
    with pytest.raises(FieldError, match="is a field, not a relation"):
        A.filter(key__foo__bar="x")
    with pytest.raises(FieldError, match="isnull.*True or False"):
        A.filter(key__isnull="yes")
    with pytest.raises(FieldError, match="pair"):
        A.filter(id__range=5)
    with pytest.raises(FieldError, match="'in' takes a list"):
        A.filter(key__in="abc")
    with pytest.raises(FieldError, match="expects a Run record, got a Transform"):
        A.filter(run=g.t_nb)
    with pytest.raises(FieldError, match="expects Run records, got a query set of Transform"):
        A.filter(run__in=ln.Transform.filter())
    with pytest.raises(FieldError, match="takes a string"):
        A.filter(key__startswith=3)
    with pytest.raises(FieldError, match="has not been saved"):
        A.filter(transform=ln.Transform("unsaved.py", kind="script"))
    with pytest.raises(FieldError, match="Did you mean 'created_at'"):
        A.filter().order_by("-created_att")


def test_trash_and_branches(g, tmp_path):
    A = ln.Artifact
    trashed = make_artifact(tmp_path, "old/trashed.txt")
    trashed.delete()  # to the trash
    assert "old/trashed.txt" not in keys(A.filter())
    assert A.filter(key__startswith="old/").count() == 0
    assert keys(A.filter(branch__name="trash")) == ["old/trashed.txt"]
    assert keys(A.filter(branch_id=-1)) == ["old/trashed.txt"]
    assert "old/trashed.txt" in keys(A.filter().all_branches())
    assert A.get(trashed.uid).branch_id == -1  # a uid names a record wherever it is
    A.get(trashed.uid).restore()
    assert keys(A.filter(key__startswith="old/")) == ["old/trashed.txt"]
    n = A.filter(key__startswith="my_datasets/").delete()
    assert n == 2 and A.filter(key__startswith="my_datasets/").count() == 0
    assert A.filter(branch__name="trash").count() == 2


def test_values_are_parameters_not_sql(g, tmp_path):
    evil = "'; drop table artifacts; --"
    a = make_artifact(tmp_path, evil, description=evil)
    A = ln.Artifact
    assert A.get(key=evil).id == a.id
    assert keys(A.filter(key__contains="drop table")) == [evil]
    assert keys(A.filter(key__startswith="';")) == [evil]
    assert keys(A.filter(description__icontains="DROP TABLE")) == [evil]
    assert keys(A.filter(key__in=[evil])) == [evil]
    assert [x.key for x in A.search(evil)][:1] == [evil]
    # FTS syntax is data, too: no error, and only real records come back
    assert {x.key for x in A.search('" OR 1=1 NEAR(x) *')} <= {x.key for x in A.filter()}
    assert A.filter().count() == 6  # the table is still there


def test_prefix_filter_uses_the_key_index(g, instance):
    from lamin_core.db import engine as db

    stmt = ln.Artifact.filter(key__startswith="my_datasets/")[:100].statement(ln.Artifact.id)
    with db.read() as s:
        conn = s.connection()
        sql = str(stmt.compile(conn, compile_kwargs={"literal_binds": True}))
        if instance.backend == "sqlite":
            plan = " ".join(str(r) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a tiny table would be scanned
            plan = " ".join(str(r) for r in conn.exec_driver_sql("EXPLAIN " + sql))
    assert "ix_artifacts_key" in plan, plan


def test_json_lookups_on_params(g):
    t = g.t_py
    ln.Run(t, name="a", params={"n": 3, "lr": 0.5, "model": {"name": "resnet", "depth": 50}, "flag": True, "s": "3", "none": None}).save()
    ln.Run(t, name="b", params={"n": 10, "lr": 0.1, "model": {"name": "ViT"}, "flag": False, "s": "abc"}).save()

    R = ln.Run.filter(name__in=["a", "b"])

    def names(qs):
        return sorted(r.name for r in qs)

    assert names(R.filter(params__n=3)) == ["a"]
    assert names(R.filter(params__s=3)) == []  # the string "3" is not the number 3
    assert names(R.filter(params__s="3")) == ["a"]
    assert names(R.filter(params__n__gt=3)) == ["b"]
    assert names(R.filter(params__n__gte=3)) == ["a", "b"]
    assert names(R.filter(params__s__gt=1)) == []  # strings are never cast to numbers
    assert names(R.filter(params__lr__range=(0.2, 1.0))) == ["a"]
    assert names(R.filter(params__model__name="resnet")) == ["a"]
    assert names(R.filter(params__model__name__istartswith="vi")) == ["b"]
    assert names(R.filter(params__model__name__contains="net")) == ["a"]
    assert names(R.filter(params__model__depth__isnull=True)) == ["b"]
    assert names(R.filter(params__flag=True)) == ["a"] and names(R.filter(params__flag=False)) == ["b"]
    assert names(R.filter(params__none=None)) == ["a"]
    assert names(R.filter(params__n__in=[10, 11])) == ["b"]
    assert names(ln.Run.filter(params__isnull=True)) == ["first run"]
    assert names(ln.Run.filter(params__n=3)) == ["a", "ingest-2"]
    assert names(R.exclude(params__n=3)) == ["b"]
    with pytest.raises(FieldError, match="key by key"):
        R.filter(params__model={"name": "resnet"})
    with pytest.raises(FieldError, match="quotes"):
        R.filter(**{'params__a"b': 1})


def test_order_by_a_related_field(g):
    qs = ln.Artifact.filter(run__isnull=False).order_by("-transform__key", "key")
    assert qs.to_list("key") == ["my_datasets/Iris_v2.csv", "my_datasets/iris.parquet", "other/x.txt", "raw/a_b%c*?[x].txt"]
    assert ln.Artifact.filter(run__isnull=False).order_by("transform__key", "-key")[:1].to_list("key") == ["raw/a_b%c*?[x].txt"]
    with pytest.raises(FieldError, match="to-many"):
        ln.Transform.filter().order_by("runs__name")
