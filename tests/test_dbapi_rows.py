"""`db.dbapi.Rows`: one SQL text with `:name` placeholders, run the same on every driver."""

from __future__ import annotations

from lamin_core.db import dbapi


def test_placeholders_outside_quotes_only_and_a_name_used_twice(instance):
    with dbapi.write() as rows:
        row = rows.one("SELECT ':not_a_parameter', \"id\", :x + :x, :y FROM users WHERE :y = :y LIMIT 1",
                       {"x": 20, "y": "it's :y"})
    assert row[0] == ":not_a_parameter" and row[2] == 40 and row[3] == "it's :y"


def test_a_multi_row_insert_of_thousands_of_parameters_goes_in_whole(instance):
    # SQLite gets positional `?` (names and `?NNN` are looked up in a list: quadratic in their number)
    with dbapi.write() as rows:
        rows.execute("CREATE TABLE wide (" + ", ".join(f"c{i} TEXT" for i in range(20)) + ")")
        values = [{f"c{i}": f"r{r}c{i}" for i in range(20)} for r in range(2_000)]
        inserted = rows.insert_many("wide", values, returning="c0, c19")
        assert sorted(inserted) == sorted((f"r{r}c0", f"r{r}c19") for r in range(2_000))
        assert rows.scalar("SELECT count(*) FROM wide WHERE c7 = :v", {"v": "r1999c7"}) == 1
        rows.execute("DROP TABLE wide")


def test_a_missing_value_is_named(instance):
    import pytest

    with pytest.raises(ValueError, match=":absent"):
        with dbapi.write() as rows:
            rows.one("SELECT :present, :absent", {"present": 1})
