"""The fast path of get()/first()/last()/one() (query/fast_get.py) against the general ORM path, on both backends.

Each check runs the same calls twice from the same session state, once with the fast path disabled and once
with it, and compares what comes back and what the session holds afterwards: column values, which
relationships are loaded, the objects' ORM state (committed, expired, modified, load path), identity with
objects loaded before, and errors. The SQL and parameters the fast path sends are compared with those the
ORM sends.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
from sqlalchemy import event, inspect, text
from test_query_data import build_graph, make_artifact

import lamin_core as ln
from lamin_core.db import engine as db
from lamin_core.errors import DoesNotExist, MultipleResultsFound
from lamin_core.query import fast_get
from lamin_core.query.queryset import _visible_branch_ids

MISSING = "<missing>"


@pytest.fixture
def g(instance, tmp_path):
    return build_graph(tmp_path)


@pytest.fixture
def fast_calls(monkeypatch):
    """How many queries the fast path has sent so far: checks that a call really took it."""
    calls = []
    real = fast_get._execute

    def counting(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(fast_get, "_execute", counting)
    return calls


def general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_get, "fetch", lambda qs, branches: None)


def _ref(value: Any) -> Any:
    if isinstance(value, list):
        return [_ref(v) for v in value]
    if hasattr(value, "_sa_instance_state"):
        return (type(value).__name__, value.id)
    return value


def snapshot(obj: Any) -> Any:
    """What a load leaves on an object: values, loaded relationships, ORM state, place in the session."""
    if obj is None:
        return None
    if isinstance(obj, list):
        return [snapshot(o) for o in obj]
    state = inspect(obj)
    mapper = state.mapper
    d = obj.__dict__
    s = db.session()
    return {
        "class": type(obj).__name__,
        "columns": {c.key: d.get(c.key, MISSING) for c in mapper.column_attrs},
        "relations": {r.key: _ref(d[r.key]) if r.key in d else MISSING for r in mapper.relationships},
        "dict_keys": [k for k in d if k != "_sa_instance_state"],
        "committed": {k: _ref(v) for k, v in state.committed_state.items()},
        "expired_attributes": set(state.expired_attributes),
        "callables": set(state.callables),
        "modified": state.modified,
        "expired": state.expired,
        "key": (state.key[0].__name__, state.key[1], state.key[2]),
        "persistent": state.persistent,
        "in_session": state.session_id == s.hash_key and s.identity_map.get(state.key) is obj,
        "load_path": state.load_path.path,
        "load_options": state.load_options,
        "joined": {r.key: snapshot(d[r.key]) for r in mapper.relationships if r.lazy == "joined" and r.key in d},
    }


def outcome(call: Callable[[], Any]) -> Any:
    try:
        return ("value", call())
    except Exception as e:  # noqa: BLE001 - the error itself is what is compared
        return ("error", type(e).__name__, str(e))


def compare(monkeypatch: pytest.MonkeyPatch, setup: Callable[[], Any], call: Callable[[Any], Any]) -> tuple[Any, Any]:
    """Run setup() then call(setup's result) on a cleared session, by the general path and then the fast one;
    assert both give the same outcome and leave the same state. Returns the fast run's (result, setup's result)."""
    results = []
    for fast in (False, True):
        db.session().expunge_all()
        with monkeypatch.context() as m:
            general_path(m)
            before = setup()
        with monkeypatch.context() as m:
            if not fast:
                general_path(m)
            got = outcome(lambda: call(before))
        value = got[1] if got[0] == "value" else None
        seen = (got[0], snapshot(value), got[2:]) if got[0] == "value" else got
        extra = snapshot(before) if before is not None and not isinstance(before, (str, int)) else None
        results.append((seen, extra, value, before))
    (general, general_before, *_), (fast, fast_before, value, before) = results
    assert fast == general
    assert fast_before == general_before
    return value, before


def test_lookups_return_the_same_records_and_state(g, monkeypatch, fast_calls):
    A = ln.Artifact
    iris = g.iris
    calls: list[Callable[[Any], Any]] = [
        lambda _: A.get(key="my_datasets/iris.parquet"),
        lambda _: A.get(iris.uid),
        lambda _: A.get(iris.uid[:16]),  # a version stem
        lambda _: A.get(iris.uid[:6]),  # a uid prefix
        lambda _: A.get(iris.id),
        lambda _: A.get(key="my_datasets/iris.parquet", description="Iris flowers, 150 rows"),
        lambda _: A.filter(key="other/x.txt").first(),
        lambda _: A.filter(key__startswith="my_datasets/").first(),
        lambda _: A.filter(key__startswith="my_datasets/").last(),
        lambda _: A.filter(key__startswith="my_datasets/").order_by("-key").first(),
        lambda _: A.filter(key__startswith="my_datasets/i").one(),
        lambda _: A.filter(key__startswith="nothing/").one_or_none(),
        lambda _: A.filter(key="raw/a_b%c*?[x].txt").first(),
        lambda _: A.filter(key__startswith="raw/a_b%c*?[").first(),  # GLOB/LIKE characters are data
        lambda _: A.filter(is_latest=True, key="other/x.txt").first(),
        lambda _: A.filter(description=None).first(),
        lambda _: A.filter(size=iris.size).first(),
        lambda _: A.filter().first(),
        lambda _: A.filter().last(),
        lambda _: A.filter(key__startswith="my_")[1],
        lambda _: ln.Run.get(name="ingest-2"),  # a joined transform
        lambda _: ln.Run.filter(name="first run").first(),
        lambda _: ln.Transform.get(key="tutorial.ipynb"),
        lambda _: ln.Storage.filter().first(),
        lambda _: ln.User.filter().first(),
        lambda _: ln.Branch.get(name="trash"),
    ]
    for call in calls:
        compare(monkeypatch, lambda: None, call)
    assert len(fast_calls) >= len(calls) - 2  # nearly every one of them took the fast path


def test_errors_are_unchanged(g, monkeypatch, fast_calls):
    A = ln.Artifact
    errors = [
        lambda _: A.get(key="nope"),
        lambda _: A.get("0123456789abcdefghij"),
        lambda _: A.get(123456),
        lambda _: A.get(key__startswith="my_"),
        lambda _: A.filter(key__startswith="my_").one(),
        lambda _: A.filter(key="nope").one(),
        lambda _: ln.Transform.get("zzzz"),
        lambda _: A.get(key="nul \x00 byte"),  # PostgreSQL refuses the value: the general path's error
    ]
    for call in errors:
        compare(monkeypatch, lambda: None, call)
        assert outcome(lambda: call(None))[0] == "error"
    assert fast_calls
    with pytest.raises(DoesNotExist, match=r"no Artifact with key='nope'"):
        A.get(key="nope")
    with pytest.raises(MultipleResultsFound, match="several Artifact records match key__startswith='my_'"):
        A.get(key__startswith="my_")


def test_loaded_objects_are_the_same_objects_and_refreshed(g, instance, monkeypatch, fast_calls):
    A = ln.Artifact
    key = "my_datasets/iris.parquet"

    def loaded_with_relations() -> Any:
        a = A.get(key=key)
        _ = a.run, a.input_of_runs, a.created_by, a.branch, a.storage.root  # lazy loads: in __dict__ now
        return a

    def expired() -> Any:
        a = A.get(key=key)
        db.session().expire(a)
        return a

    def changed_elsewhere() -> Any:
        a = A.get(key=key)
        with db.engine().begin() as conn:  # another writer: the identity map's object is now stale
            conn.execute(text("UPDATE artifacts SET description = 'changed elsewhere' WHERE id = :i"), {"i": a.id})
            conn.execute(text("UPDATE storages SET description = 'storage changed' WHERE id = :i"), {"i": a.storage_id})
        return a

    def in_open_transaction() -> Any:
        a = A.get(key=key)
        _ = a.run  # a lazy load leaves the session in a transaction
        assert db.session().in_transaction()
        return a

    for setup in (loaded_with_relations, expired, changed_elsewhere, in_open_transaction):
        got, before = compare(monkeypatch, setup, lambda before: A.get(key=key))
        assert got is before  # the identity map's object, refreshed
    assert got.description == "changed elsewhere" and got.storage.description == "storage changed"
    # relationships load afterwards, as after a general-path load
    got = A.get(key=key)
    assert got.run.id == g.run_nb.id and got.run.transform.key == "tutorial.ipynb"
    assert [r.id for r in got.input_of_runs] == [g.run_py.id]
    assert got.created_by.id == ln.User.filter().first().id and got.branch.name == "main"
    assert fast_calls


def test_two_versions_share_one_storage_row(instance, tmp_path, monkeypatch, fast_calls):
    f = tmp_path / "d.json"
    f.write_text('{"v": 1}')
    v1 = ln.Artifact(f, key="cfg/d.json").save()
    f.write_text('{"v": 2}')
    v2 = ln.Artifact(f, key="cfg/d.json").save()
    stem = v1.uid[:16]
    # both versions come back (the storage object met twice in one result)
    got, _ = compare(monkeypatch, lambda: None, lambda _: ln.Artifact.get(stem))
    assert got.uid == v2.uid
    compare(monkeypatch, lambda: None, lambda _: ln.Artifact.filter(key="cfg/d.json").all_branches().one())
    compare(monkeypatch, lambda: None, lambda _: ln.Artifact.get(key="cfg/d.json", is_latest=False))
    compare(monkeypatch, lambda: ln.Storage.filter().first(), lambda _: ln.Artifact.get(stem))
    assert fast_calls


def test_trash_and_branches(g, tmp_path, monkeypatch, fast_calls):
    A = ln.Artifact
    trashed = make_artifact(tmp_path, "old/trashed.txt")
    trashed.delete()
    uid = trashed.uid
    compare(monkeypatch, lambda: None, lambda _: A.get(key="old/trashed.txt"))  # not on a visible branch
    compare(monkeypatch, lambda: None, lambda _: A.filter(key__startswith="old/").first())
    got, _ = compare(monkeypatch, lambda: None, lambda _: A.get(uid))  # a uid names it on any branch
    assert got.branch_id == -1
    compare(monkeypatch, lambda: None, lambda _: A.get(uid[:8]))
    compare(monkeypatch, lambda: None, lambda _: A.filter(key="old/trashed.txt", branch_id=-1).first())
    compare(monkeypatch, lambda: None, lambda _: A.filter(key="old/trashed.txt").all_branches().first())
    assert fast_calls


def test_feature_lookups_and_expressions_take_the_general_path(instance, tmp_path, monkeypatch, fast_calls):
    a = make_artifact(tmp_path, "features/a.txt")
    ln.Feature(name="temperature", dtype=float).save()
    a.features.add_values({"temperature": 21.6})
    A = ln.Artifact
    for call in (
        lambda _: A.get(temperature=21.6),
        lambda _: A.filter(temperature=21.6).first(),
        lambda _: A.filter(key="features/a.txt", temperature=21.6).first(),
        lambda _: A.filter(A.key == "features/a.txt").first(),
        lambda _: A.filter(key__in=["features/a.txt"]).first(),
        lambda _: A.filter(run=None).first(),
        lambda _: A.filter(facets=None).first(),
        lambda _: A.filter(key="features/a.txt", ulabels=None).first(),  # an alias, not a column
        lambda _: A.filter(key="features/a.txt").exclude(description="x").first(),
        lambda _: A.filter(key__startswith="features/").order_by("run__started_at").first(),
    ):
        got, _ = compare(monkeypatch, lambda: None, call)
        assert got is not None and got.id == a.id, outcome(lambda: call(None))
    assert not fast_calls


def test_unflushed_changes_are_committed_by_a_read_as_before(instance, tmp_path):
    # a change to a loaded object or an added one begins a session transaction (SQLAlchemy 2.0's autobegin),
    # which a read commits first: that flushes them, on both paths
    a = make_artifact(tmp_path, "dirty/a.txt")
    make_artifact(tmp_path, "dirty/b.txt")
    s = db.session()
    a.description = "set, never saved"
    label = ln.ULabel(name="added, never saved")
    s.add(label)
    ln.Artifact.get(key="dirty/b.txt")
    assert not s.dirty and not s.new and label.id is not None
    with db.engine().connect() as conn:
        assert conn.execute(text("SELECT description FROM artifacts WHERE id = :i"), {"i": a.id}).scalar() == "set, never saved"
        assert conn.execute(text("SELECT name FROM ulabels WHERE id = :i"), {"i": label.id}).scalar() == "added, never saved"


def test_inside_a_write_transaction_reads_see_its_rows(instance, tmp_path, fast_calls):
    make_artifact(tmp_path, "w/a.txt")
    with db.write() as s:
        s.execute(text("UPDATE artifacts SET description = 'in transaction'"))
        assert ln.Artifact.get(key="w/a.txt").description == "in transaction"
    assert not fast_calls


def test_listeners_on_the_general_path_events_are_honoured(g, fast_calls):
    seen = []

    def spy(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
        seen.append(statement)

    eng = db.engine()
    event.listen(eng, "before_cursor_execute", spy)
    try:
        ln.Artifact.get(key="other/x.txt")
    finally:
        event.remove(eng, "before_cursor_execute", spy)
    assert seen and not fast_calls
    ln.Artifact.get(key="other/x.txt")
    assert len(fast_calls) == 1


def test_the_sql_and_parameters_are_the_orms(g, monkeypatch):
    A = ln.Artifact
    shapes = [
        lambda: A.filter(key="my_datasets/iris.parquet", is_latest=True)[:2],
        lambda: A.filter(uid=g.iris.uid)[:2],
        lambda: A.filter(uid__startswith=g.iris.uid[:6]).all_branches().order_by("-uid")[:2],
        lambda: A.filter(key__startswith="my_datasets/").order_by("id")[:1],
        lambda: A.filter(key__startswith="raw/a_b%c*?[").order_by("id")[:1],
        lambda: A.filter(id=g.iris.id)[:2],
        lambda: A.filter(description=None, size=5)[:1],
        lambda: ln.Run.filter(name="first run").order_by("-id")[:1],
    ]
    for make in shapes:
        sent = []

        def spy(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
            sent.append((statement, parameters))

        eng = db.engine()
        event.listen(eng, "before_cursor_execute", spy)
        try:
            list(make())
        finally:
            event.remove(eng, "before_cursor_execute", spy)
        qs = make()
        planned = fast_get.explain(qs, _visible_branch_ids() if qs._branch_scope else None)
        assert planned is not None
        assert [(planned[0], planned[1])] == [s for s in sent if s[0].lstrip().upper().startswith("SELECT")]


def test_a_plan_follows_its_mappers(g, monkeypatch, fast_calls):
    """A relationship added to a model later (bionty's, the annotations') renews the mapper's property set:
    the plan is made again, so that a load resets that relationship too."""
    ln.Artifact.get(key="other/x.txt")
    plans = [p for p in fast_get._plans.values() if isinstance(p, fast_get._Plan) and p.main.mapper.class_ is ln.Artifact]
    assert plans
    inspect(ln.Artifact)._reset_memoizations()  # what adding a property does
    compare(monkeypatch, lambda: ln.Artifact.get(key="other/x.txt"), lambda _: ln.Artifact.get(key="other/x.txt"))
    renewed = [p for p in fast_get._plans.values() if isinstance(p, fast_get._Plan) and p.main.mapper.class_ is ln.Artifact]
    fresh = [p for p in renewed if p.current()]
    assert fresh and not {id(p) for p in fresh} & {id(p) for p in plans}
    assert len(fast_calls) >= 2
