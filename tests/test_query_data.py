"""A small lineage graph that the query, search and describe tests share (no tests here).

    tutorial.ipynb (notebook, "The tutorial notebook") -- run_nb --> my_datasets/iris.parquet, my_datasets/Iris_v2.csv
    pipelines/ingest.py (script, "Ingest raw data")    -- run_py (initiated by run_nb, inputs: iris.parquet)
                                                           --> raw/a_b%c*?[x].txt, other/x.txt
    unlinked.txt: no run
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Graph:
    t_nb: Any
    t_py: Any
    run_nb: Any
    run_py: Any
    iris: Any
    iris_v2: Any
    odd: Any
    other: Any
    unlinked: Any


def make_artifact(tmp_path: Path, key: str, run: Any = None, description: str | None = None) -> Any:
    import lamin_core as ln

    path = tmp_path / "src" / f"{abs(hash(key))}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"content of {key}")
    return ln.Artifact(path, key=key, description=description, run=run).save()


def build_graph(tmp_path: Path) -> Graph:
    import lamin_core as ln

    t_nb = ln.Transform("tutorial.ipynb", kind="notebook", description="The tutorial notebook").save()
    t_py = ln.Transform("pipelines/ingest.py", kind="script", description="Ingest raw data").save()
    run_nb = ln.Run(t_nb, name="first run").save()
    run_py = ln.Run(t_py, name="ingest-2", params={"n": 3}).save()
    run_py.initiated_by_run = run_nb
    run_py.save()
    iris = make_artifact(tmp_path, "my_datasets/iris.parquet", run_nb, "Iris flowers, 150 rows")
    iris_v2 = make_artifact(tmp_path, "my_datasets/Iris_v2.csv", run_nb)
    odd = make_artifact(tmp_path, "raw/a_b%c*?[x].txt", run_py, "special characters")
    other = make_artifact(tmp_path, "other/x.txt", run_py)
    unlinked = make_artifact(tmp_path, "unlinked.txt", None, "no lineage")
    run_py.input_artifacts.append(iris)
    run_py.save()
    return Graph(t_nb, t_py, run_nb, run_py, iris, iris_v2, odd, other, unlinked)


def keys(qs: Any) -> list[str]:
    return sorted(a.key for a in qs)
