"""The timing every benchmark here shares: warm runs, milliseconds, median and 90th percentile.

Benchmarks run as scripts (`python benchmarks/x.py`), so this folder is on `sys.path`: `from timing import warm_ms`.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator


def warm_ms(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> tuple[float, float]:
    """(median, p90) in ms of `repeat` calls, after `warmup` calls that fill caches and statement caches."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.9) - 1)]


@contextmanager
def throwaway_instance(backend: str, name: str = "bench") -> Iterator[str]:
    """A new connected instance in a temporary folder (PostgreSQL: in a temporary schema of LAMIN_TEST_PG),
    removed afterwards; yields its LAMIN_HOME, for processes that must write to it too."""
    import os
    import tempfile
    import uuid

    from lamin_core.db import engine as db
    from lamin_core.setup import init
    from lamin_core.testing import _pg_execute, _pg_schema_url

    with tempfile.TemporaryDirectory() as base:
        home = os.path.join(base, "home")
        os.environ["LAMIN_HOME"] = home
        os.environ.pop("LAMIN_INSTANCE", None)
        schema = f"lamin_bench_{uuid.uuid4().hex[:10]}" if backend == "postgresql" else None
        if schema:
            _pg_execute(f'CREATE SCHEMA "{schema}"')
        try:
            init(storage=os.path.join(base, "storage"), db=_pg_schema_url(schema) if schema else None, name=name)
            yield home
        finally:
            db.configure(None)
            if schema:
                _pg_execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
