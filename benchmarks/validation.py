"""Validation speed: a 1,000,000-row DataFrame with 10 categorical columns (100 labels each) against a schema.

    .venv/bin/python benchmarks/validation.py                    # SQLite and PostgreSQL
    .venv/bin/python benchmarks/validation.py --rows 100000 --backend sqlite

Seeds a fresh instance in a temporary folder (PostgreSQL: a temporary schema of LAMIN_TEST_PG, dropped
afterwards) with 10 ULabel-typed features and 1,000 labels, builds the DataFrame (5 columns of pandas
category dtype, 5 plain object columns of strings), and times through the public API:
- `validate`: `DataFrameCurator(df, schema).validate()` (the same checks as `from_dataframe(schema=)`),
- `invalid`: the same with one typo per column, up to the error with its suggestions,
- `annotate`: `Artifact.from_dataframe(df, key, schema=).save()` minus writing the parquet file, i.e. the
  validation plus the annotation rows in the save transaction (measured as from_dataframe+save, and
  the parquet write alone, subtracted).
Prints the median and 90th percentile in milliseconds. Goal: validate < 1,000 ms on SQLite.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from timing import throwaway_instance, warm_ms  # this folder is on sys.path when a benchmark runs as a script

N_FEATURES = 10
N_LABELS = 100



def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    return warm_ms(fn, repeat, warmup=0)


def seed() -> Any:
    import lamin_core as ln

    records = []
    for j in range(N_FEATURES):
        records.append(ln.Feature(name=f"feature_{j}", dtype=ln.ULabel))
        records.extend(ln.ULabel(name=f"feature_{j}_label_{i:03d}") for i in range(N_LABELS))
    ln.save(records)
    return ln.Schema(features=[f"feature_{j}" for j in range(N_FEATURES)]).save()


def frame(rows: int, typo: bool = False) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    columns = {}
    for j in range(N_FEATURES):
        names = np.array([f"feature_{j}_label_{i:03d}" for i in range(N_LABELS)], dtype=object)
        values = names[rng.integers(0, N_LABELS, rows)]
        if typo:
            values[rows // 2] = f"feature_{j}_labl_007"
        columns[f"feature_{j}"] = pd.Categorical(values) if j % 2 == 0 else values
    return pd.DataFrame(columns)




def run(rows: int, repeat: int) -> list[tuple[str, float, float, str]]:
    import lamin_core as ln
    from lamin_core.errors import ValidationError

    schema = seed()
    df, bad = frame(rows), frame(rows, typo=True)

    def validate() -> None:
        ln.curators.DataFrameCurator(df, schema).validate()

    def invalid() -> None:
        try:
            ln.curators.DataFrameCurator(bad, schema).validate()
        except ValidationError as e:
            assert "did you mean 'feature_0_label_007'" in str(e), str(e)[:500]
        else:
            raise AssertionError("the typos validated")

    counter = iter(range(10**6))

    def save_validated() -> None:
        i = next(counter)
        ln.Artifact.from_dataframe(df.assign(n=i), key=f"bench/{i}.parquet", schema=schema).save()

    def save_plain() -> None:
        i = next(counter)
        ln.Artifact.from_dataframe(df.assign(n=i), key=f"plain/{i}.parquet").save()

    results = [("validate: 10 categorical columns (5 category, 5 object), 1,000 labels", *timed(validate, repeat), "< 1000")]
    results.append(("invalid: one typo per column, error with suggestions", *timed(invalid, repeat), ""))
    validated = timed(save_validated, max(3, repeat // 2))
    plain = timed(save_plain, max(3, repeat // 2))
    results.append(("from_dataframe(schema=).save()", *validated, ""))
    results.append(("from_dataframe().save() without schema (parquet + save)", *plain, ""))
    results.append(("  difference: validation + annotation", validated[0] - plain[0], validated[1] - plain[1], ""))
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--repeat", type=int, default=7, help="timed repetitions per operation")
    args = p.parse_args(argv)
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        bench_backend(backend, args.rows, args.repeat)
    return 0


def bench_backend(backend: str, rows: int, repeat: int) -> None:
    with throwaway_instance(backend):
        results = run(rows, repeat)
        print(f"\n{backend}, {rows:,} rows x {N_FEATURES} categorical columns (median / p90 of {repeat} runs, ms)")
        for name, med, p90, goal in results:
            print(f"  {name:<72} {med:8.1f} {p90:8.1f}   {'goal ' + goal if goal else ''}")
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
