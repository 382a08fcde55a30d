"""to_dataframe() on SQLite through SQLite's own JSON text of the rows, parsed by Arrow (query/sqlite_frames.py),
gives the very frame the row path gives: text with quotes, backslashes, line breaks, control characters and
unicode, NULL patterns, 64-bit integers, booleans, JSON and datetime text, include= paths, slices, parameters,
uncommitted rows of a write. Where it can't (a number in a JSON or datetime column, U+0001, a real in an
integer column, a blob) `via="arrow"` raises `Unsupported` and the default path reads the rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import OperationalError
from test_arrow_frames import assert_identical

import lamin_core as ln
from lamin_core import ids
from lamin_core.db import engine as db
from lamin_core.models import Artifact, Run
from lamin_core.query.arrow_frames import Unsupported
from lamin_core.query.frames import to_dataframe

TEXTS = [
    'a "quoted" word, a comma', "back\\slash \\n not a line break \\\\", "line\nbreak\r\nwindows\rmac\ttab",
    "é ü 日本 🙂 \u2028 \x7f", "null", "", "\x02\x08\x0c\x1f\x00 controls", '{"a": [1, "x"]}', "x'; DROP TABLE artifacts; --",
    None, "\\", '"', "\\u0002 as text", "trailing backslash \\",
]


def assert_taken(qs: Any, include: Any = None) -> pd.DataFrame:
    """The SQLite text path is taken and gives the row path's frame."""
    fast = to_dataframe(qs, include=include, via="arrow")
    assert_identical(fast, to_dataframe(qs, include=include, via="dbapi"))
    return fast


def assert_refused(qs: Any, include: Any = None, match: str | None = None, error: type[Exception] = Unsupported) -> pd.DataFrame:
    """The SQLite text path refuses; the default path reads the rows."""
    with pytest.raises(error, match=match):
        to_dataframe(qs, include=include, via="arrow")
    df = to_dataframe(qs, include=include)
    assert_identical(df, to_dataframe(qs, include=include, via="dbapi"))
    return df


def seed(n_runs: int = 3) -> list[int]:
    """Artifacts with TEXTS as descriptions, 64-bit sizes and partly NULL runs; returns the run ids."""
    from sqlalchemy import select

    from lamin_core.models import Storage
    from lamin_core.setup.user import current_user_id

    user, now = current_user_id(), dt.datetime(2024, 5, 17, 12, 30, 45, 123456, tzinfo=dt.timezone.utc)
    t = ln.Transform(key="p.py").save()
    with db.write() as s:
        storage = s.execute(select(Storage.id)).scalars().first()
        s.execute(insert(Run.__table__), [dict(uid=ids.base62(20), transform_id=t.id, status="completed", created_at=now,
                                               started_at=now, branch_id=1, params={"i": i, "s": "x\ny"}) for i in range(n_runs)])
        runs = s.execute(select(Run.id)).scalars().all()
        sizes = [2**63 - 1, -(2**63), 0, None, 10**15]
        s.execute(insert(Artifact.__table__), [
            dict(uid=ids.base62(20), key=f"k/{i:03d}", description=d, storage_id=storage, suffix=".txt", size=sizes[i % len(sizes)],
                 is_latest=i % 2 == 0, managed=True, run_id=runs[i % len(runs)] if i % 3 else None,
                 created_at=now + dt.timedelta(microseconds=i), updated_at=now, created_by_id=user, branch_id=1)
            for i, d in enumerate(TEXTS)])
    return list(runs)


def test_tricky_text_integers_and_nulls(sqlite_instance):
    seed()
    df = assert_taken(Artifact.filter())
    assert df["description"].tolist() == TEXTS
    assert df["size"].dtype == "float64" and df["n_files"].tolist() == [None] * len(TEXTS)  # all NULL: object None
    assert df["is_latest"].dtype == bool and str(df["created_at"].dtype) == "datetime64[ns, UTC]"
    assert_taken(Artifact.filter(size__isnull=False))  # 64-bit integers, no NULL: int64, exact
    assert assert_taken(Artifact.filter(size__isnull=False))["size"].tolist()[:2] == [2**63 - 1, -(2**63)]
    assert_taken(Artifact.filter(description__isnull=True))


def test_include_paths_slices_parameters_and_empty(sqlite_instance):
    seed()
    include = ["run__transform__key", "run__started_at", "run__params", "run__transform__is_latest", "storage__root"]
    df = assert_taken(Artifact.filter(), include=include)
    assert df["run__params"].dropna().iloc[0]["s"] == "x\ny"  # JSON text decoded, its escapes too
    assert_taken(Artifact.filter(key__startswith="k/").order_by("-key")[2:7], include="run__transform__key")
    assert_taken(Artifact.filter(key__in=["k/001", "k/004", "nope"]).order_by("run__transform__key", "-key")[:2])
    assert len(assert_taken(Artifact.filter(key="nope"))) == 0  # no rows: the same untyped frame
    assert len(assert_taken(Artifact.filter(key="nope"), include="run__started_at")) == 0
    assert len(assert_taken(Artifact.filter(description=TEXTS[8]))) == 1  # a parameter, never SQL text
    assert_taken(Artifact.filter(description__contains="\n"))
    assert_taken(Run.filter())
    assert Artifact.filter().count() == len(TEXTS)


def test_datetime_text_arrow_cannot_read_stays_text(sqlite_instance):
    """Arrow reads the datetimes SQLAlchemy writes; a column holding another form (offset, "Z", date only,
    unpadded) is left to pandas as the row path leaves it: the same values either way."""
    seed(6)
    forms = ["2024-01-01 12:00:00+02:00", "2024-01-01T12:00:00.5Z", "2024-01-02", "2024-01-01 12:00", "2024-1-3 12:00:00", None]
    with db.write() as s:
        for i, form in enumerate(forms):
            s.execute(text("UPDATE runs SET finished_at = :v WHERE id = :id"), dict(v=form, id=i + 1))
    df = assert_taken(Run.filter())
    assert df["finished_at"].iloc[0] == pd.Timestamp("2024-01-01 10:00:00", tz="UTC")
    assert_taken(Run.filter(id__in=[3, 4]))  # forms Arrow reads too
    with db.write() as s:  # pandas refuses an impossible date: both paths raise
        s.execute(text("UPDATE runs SET finished_at = '2024-02-30 12:00:00.000000' WHERE id = 1"))
    for via in ("arrow", "dbapi"):
        with pytest.raises(ValueError):
            to_dataframe(Run.filter(), via=via)  # type: ignore[arg-type]


def test_values_of_another_storage_class_are_refused(sqlite_instance):
    runs = seed()
    with db.write() as s:  # NUMERIC affinity: a number in a datetime or JSON column stays a number
        s.execute(text("UPDATE runs SET started_at = 20240101 WHERE id = :id"), dict(id=runs[1]))
    assert_refused(Run.filter(), match="storage class")
    assert_refused(Artifact.filter(), include="run__started_at", match="storage class")  # inside the subquery
    assert_taken(Artifact.filter())
    with db.write() as s:
        s.execute(text("UPDATE runs SET started_at = NULL, params = '2.5' WHERE id = :id"), dict(id=runs[1]))
    assert_refused(Run.filter(), match="storage class")  # a JSON number: SQLite's JSON would round it
    assert assert_refused(Run.filter())["params"].tolist()[1] == 2.5
    with db.write() as s:  # the JSON text of "a\u0001b" holds a backslash, not U+0001
        s.execute(text("UPDATE runs SET params = '\"a\\u0001b\"' WHERE id = :id"), dict(id=runs[1]))
        s.execute(text("UPDATE artifacts SET size = 1.5 WHERE id = 1"))
    assert assert_taken(Run.filter())["params"].tolist()[1] == "a\x01b"
    assert_refused(Artifact.filter(), match="int64")  # a real in an integer column
    with db.write() as s:
        s.execute(text("UPDATE artifacts SET size = 1, description = char(1) WHERE id = 1"))
    assert_refused(Artifact.filter(), match="escape")  # U+0001 marks a refused value: refused itself
    with db.write() as s:
        s.execute(text("UPDATE artifacts SET description = x'00ff' WHERE id = 1"))
    assert_refused(Artifact.filter(), match="BLOB", error=OperationalError)  # SQLite's json_array refuses


def test_uncommitted_rows_of_a_write(sqlite_instance):
    seed()
    with db.write() as s:
        s.execute(text("UPDATE artifacts SET description = 'changed' WHERE id = 1"))
        df = to_dataframe(Artifact.filter(), via="arrow")
        assert df.loc[1, "description"] == "changed"
    assert to_dataframe(Artifact.filter(), via="arrow").loc[1, "description"] == "changed"


def test_registries_read_by_text(sqlite_instance, tmp_path):
    from test_query_data import build_graph

    build_graph(tmp_path)
    for model in (ln.Artifact, ln.Run, ln.Transform, ln.ULabel, ln.Storage, ln.User, ln.Collection, ln.Record, ln.Schema,
                  ln.Branch, ln.Feature):
        assert_taken(model.filter())


def test_small_slices_read_rows_others_text(sqlite_instance, monkeypatch):
    """A slice of a few rows is read row by row (the text path's fixed cost outweighs its gain there)."""
    from lamin_core.query import frames, sqlite_frames

    seed()
    calls = []
    read_raw = sqlite_frames.read_raw
    monkeypatch.setattr(sqlite_frames, "read_raw", lambda *a: calls.append(1) or read_raw(*a))
    assert len(Artifact.filter()[:frames.SQLITE_FEW_ROWS].to_dataframe()) == len(TEXTS) and calls == []
    assert len(Artifact.filter()[:frames.SQLITE_FEW_ROWS + 1].to_dataframe()) == len(TEXTS) and calls == [1]
    assert len(Artifact.filter().to_dataframe()) == len(TEXTS) and calls == [1, 1]
