"""Speed of the offline biological registries: loading a source, search, validation.

    .venv/bin/python benchmarks/bionty.py

Each "cold" figure is a fresh process (so imports are not counted, the call is): with an empty lamin cache
(the source is parsed) and with the disk cache filled by a previous process. The rest run in one process,
on a temporary SQLite instance, and print the median of repeated calls in milliseconds.
Goals: `bt.CellType.public()` cold < 300 ms, warm < 20 ms; `public().search()` < 20 ms; validating
100,000 values (1,000 distinct) against CL < 300 ms; validating 30,000 Ensembl ids < 200 ms.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

COLD = """
import time
from lamin_core import bionty as bt
model = bt.{model}
t = time.perf_counter()
model.public({kwargs})
print(time.perf_counter() - t)
"""


def cold(home: str, model: str = "CellType", kwargs: str = "") -> float:
    env = {**os.environ, "LAMIN_HOME": home}
    env.pop("LAMIN_INSTANCE", None)
    out = subprocess.run([sys.executable, "-c", COLD.format(model=model, kwargs=kwargs)], capture_output=True, text=True,
                         env=env, check=True)
    return float(out.stdout.strip()) * 1000


def timed(label: str, fn: Callable[[], Any], repeat: int = 7, goal: float | None = None) -> None:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    note = f"  (goal < {goal:g} ms)" if goal else ""
    print(f"{label:<62} {statistics.median(times):8.1f} ms{note}")


def main() -> None:
    for model, kwargs, goal in (("CellType", "", 300), ("Disease", "", None), ("Gene", "organism='human'", None),
                                ("CellLine", "", None)):
        home = tempfile.mkdtemp()
        first, second = cold(home, model, kwargs), cold(home, model, kwargs)
        note = f"  (goal < {goal} ms)" if goal else ""
        print(f"{model + '.public() cold, empty cache / disk cache':<62} {first:8.1f} / {second:.1f} ms{note}")

    os.environ["LAMIN_HOME"] = tempfile.mkdtemp()
    os.environ.pop("LAMIN_INSTANCE", None)
    from lamin_core import bionty as bt
    from lamin_core.setup import init

    init(storage=tempfile.mkdtemp(), name="bench-bionty")
    timed("CellType.public() warm (same process)", lambda: bt.CellType.public(), goal=20)
    ontology = bt.CellType.public()
    for query in ("gamma-delta T cell", "nerve cell", "gama-delta T cel"):
        timed(f"CellType.public().search({query!r})", lambda q=query: ontology.search(q), goal=20)
    mondo = bt.Disease.public()
    timed("Disease.public().search('diabetis mellitus') (MONDO, a typo)", lambda: mondo.search("diabetis mellitus"))

    rng = random.Random(0)
    names = rng.sample(list(ontology.table.columns["name"]), 1000)
    values = [rng.choice(names) for _ in range(100_000)]
    timed("CL: public().validate(100,000 values, 1,000 distinct)", lambda: ontology.validate(values), goal=300)
    timed("CL: CellType.from_values(1,000 distinct, none saved)", lambda: bt.CellType.from_values(names, mute=True), goal=300)
    timed("CL: CellType.inspect(100,000 values, 1,000 distinct)", lambda: bt.CellType.inspect(values, mute=True))

    genes = bt.Gene.public(organism="human")
    ids = [i for i in genes.table.columns["ensembl_gene_id"] if i][:30_000]
    timed("genes: public().validate(30,000 Ensembl ids)", lambda: genes.validate(ids, field="ensembl_gene_id"), goal=200)
    timed("genes: Gene.from_values(30,000 Ensembl ids, none saved)",
          lambda: bt.Gene.from_values(ids, field="ensembl_gene_id", mute=True), repeat=3, goal=200)


if __name__ == "__main__":
    main()
