"""The timing every benchmark here shares: warm runs, milliseconds, median and 90th percentile.

Benchmarks run as scripts (`python benchmarks/x.py`), so this folder is on `sys.path`: `from timing import warm_ms`.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable


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
