"""The lineage explorer's speed: search at 100,000 artifacts, and an artifact page with a 500-node upstream graph.

    .venv/bin/python benchmarks/explorer.py                    # both backends
    .venv/bin/python benchmarks/explorer.py --backend sqlite --repeat 20

Seeded with Core bulk inserts into a fresh instance (PostgreSQL: a temporary schema, dropped afterwards):
100,000 artifacts (keys like `project17/sample04211/reads.parquet`, with descriptions), and a fan-in graph: one
artifact made by a merge run that read 249 artifacts, each made by its own run (500 nodes at depth 2, none
folded). Then `lamin serve` is started on it and measured:

- search: `GET /?q=...` (the home page: ranked search over artifacts, transforms and runs) and
  `GET /?q=...&kind=artifact`, over HTTP with `requests`; goal < 200 ms;
- the graph: `GET /ui/api/graph/artifact/<uid>?depth=2` (the JSON the page's script draws, laid out);
- first paint of the artifact page in headless chromium (Selenium), from the browser's own `performance`
  timing: first contentful paint (goal < 1 s), and the moment the 500-node graph is drawn.

Prints warm medians and 90th percentiles in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from timing import throwaway_instance, warm_ms  # this folder is on sys.path when a benchmark runs as a script

N_ARTIFACTS = 100_000
FAN_IN = 249  # inputs of the merge run: 1 + 1 + 249 + 249 = 500 nodes
WORDS = ("reads", "counts", "qc", "alignment", "summary", "matrix", "peaks", "variants")


def seed() -> str:
    """Insert the artifacts and the fan-in graph; returns the focus artifact's uid."""
    from sqlalchemy import insert, select

    from lamin_core import ids
    from lamin_core.db import engine as db
    from lamin_core.models import Artifact, Run, Storage, Transform
    from lamin_core.models.run import run_input_artifacts
    from lamin_core.setup.user import current_user_id

    user = current_user_id()
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    common = dict(created_by_id=user, branch_id=1)
    with db.engine().begin() as conn:
        storage = conn.execute(select(Storage.id)).scalar_one()
        rows = []
        for i in range(N_ARTIFACTS):
            word = WORDS[i % len(WORDS)]
            rows.append(dict(uid=ids.base62(16) + "0000", key=f"project{i % 100}/sample{i:05d}/{word}.parquet", storage_id=storage,
                             suffix=".parquet", size=1000 + i, description=f"{word} of sample {i} in project {i % 100}",
                             is_latest=True, managed=False, created_at=t0 + timedelta(seconds=i), updated_at=t0, **common))
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(Artifact.__table__), rows[start : start + 10_000])
        conn.execute(insert(Transform.__table__), [
            dict(uid="benchprep000" + "0000", key="bench/prepare", kind="function", is_latest=True, created_at=t0, updated_at=t0, **common),
            dict(uid="benchmerge00" + "0000", key="bench/merge", kind="function", is_latest=True, created_at=t0, updated_at=t0, **common),
        ])
        prep, merge = conn.execute(select(Transform.id).order_by(Transform.id)).scalars().all()[-2:]
        run_rows = [dict(uid=ids.base62(20), transform_id=prep, status="completed", started_at=t0, created_at=t0, **common)
                    for _ in range(FAN_IN)]
        run_rows.append(dict(uid=ids.base62(20), transform_id=merge, status="completed", started_at=t0, created_at=t0, **common))
        conn.execute(insert(Run.__table__), run_rows)
        rids = conn.execute(select(Run.id).order_by(Run.id)).scalars().all()[-(FAN_IN + 1) :]
        ins = [dict(uid=ids.base62(16) + "0000", key=f"fanin/part{k:03d}.parquet", storage_id=storage, suffix=".parquet", size=10,
                    is_latest=True, managed=False, run_id=rids[k], created_at=t0, updated_at=t0, **common) for k in range(FAN_IN)]
        focus_uid = ids.base62(16) + "0000"
        ins.append(dict(uid=focus_uid, key="fanin/merged.parquet", storage_id=storage, suffix=".parquet", size=10, is_latest=True,
                        managed=False, run_id=rids[-1], created_at=t0, updated_at=t0, **common))
        conn.execute(insert(Artifact.__table__), ins)
        part_ids = conn.execute(select(Artifact.id).where(Artifact.key.like("fanin/part%"))).scalars().all()
        conn.execute(insert(run_input_artifacts), [{"run_id": rids[-1], "artifact_id": a} for a in part_ids])
    with db.engine().connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return focus_uid


def _driver() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")  # type: ignore[assignment]
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))  # type: ignore[arg-type]


PAINT_JS = """
const done = arguments[arguments.length - 1];
const fcp = () => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime;
const t0 = performance.now();
(function poll() {
  const note = document.querySelector('.graph-note');
  if (note && note.textContent.indexOf('500 nodes') >= 0 && fcp() !== undefined) {
    done([fcp(), performance.now(), performance.timing.responseEnd - performance.timing.navigationStart]);
  } else if (performance.now() - t0 > 30000) { done([fcp(), -1, -1]); } else { setTimeout(poll, 5); }
})();
"""


def first_paint(url: str, repeat: int) -> dict[str, tuple[float, float]]:
    """First contentful paint, graph drawn, and HTML received, each from the browser's navigation start (ms)."""
    driver = _driver()
    driver.set_script_timeout(60)
    samples: dict[str, list[float]] = {"first contentful paint": [], "500-node graph drawn": [], "HTML received": []}
    try:
        for i in range(repeat + 2):
            driver.get("about:blank")
            driver.get(url)
            fcp, drawn, html = driver.execute_async_script(PAINT_JS)
            if drawn < 0:
                raise RuntimeError(f"the graph was not drawn within 30 s at {url}")
            if i >= 2:  # two warm-up loads: the server's imports, the browser's cache of graph.js and the CSS
                samples["first contentful paint"].append(fcp)
                # performance.now() counts from navigation start, as the paint entries do
                samples["500-node graph drawn"].append(drawn)
                samples["HTML received"].append(float(html))
    finally:
        driver.quit()

    def stats(values: list[float]) -> tuple[float, float]:
        values = sorted(values)
        return values[len(values) // 2], values[max(0, int(len(values) * 0.9) - 1)]

    return {name: stats(values) for name, values in samples.items()}


def measure(env: dict[str, str], focus: str, repeat: int) -> list[tuple[str, float, float, str]]:
    import requests
    from lamin_openlineage.testing import lamin_serve

    results: list[tuple[str, float, float, str]] = []
    with lamin_serve(env) as server:
        session = requests.Session()

        def get(path: str, check: Callable[[requests.Response], bool]) -> Callable[[], None]:
            def go() -> None:
                answer = session.get(server.base + path, timeout=60)
                answer.raise_for_status()
                assert check(answer), path

            return go

        results.append(("GET /?q=sample04211 (all kinds)", *warm_ms(get("/?q=sample04211", lambda r: "sample04211" in r.text), repeat, 3), "< 200"))
        results.append(("GET /?q=alignmnt&kind=artifact (a typo)", *warm_ms(get("/?q=alignmnt&kind=artifact", lambda r: "alignment" in r.text), repeat, 3), "< 200"))
        results.append(("GET /?q=project17 sample&kind=artifact", *warm_ms(get("/?q=project17%20sample&kind=artifact", lambda r: "project17/" in r.text), repeat, 3), "< 200"))
        results.append(("GET / (latest of each)", *warm_ms(get("/", lambda r: "Latest artifacts" in r.text), repeat, 3), "-"))
        results.append(("GET /ui/api/graph/artifact (500 nodes)", *warm_ms(get(f"/ui/api/graph/artifact/{focus}?depth=2",
                                                                                 lambda r: len(r.json()["nodes"]) == 500), repeat, 3), "-"))
        results.append(("GET /ui/artifact page HTML", *warm_ms(get(f"/ui/artifact/{focus}?depth=2", lambda r: focus in r.text), repeat, 3), "-"))
        if shutil.which("chromium") and shutil.which("chromedriver"):
            for name, (med, p90) in first_paint(f"{server.base}/ui/artifact/{focus}?depth=2", max(5, repeat // 3)).items():
                results.append((f"browser: {name}", med, p90, "< 1000" if name == "first contentful paint" else "-"))
        else:
            print("chromium/chromedriver not installed: no first-paint numbers (apt-get install chromium chromium-driver)", file=sys.stderr)
    return results


def bench_backend(backend: str, repeat: int) -> None:
    with throwaway_instance(backend) as home:
        t0 = time.perf_counter()
        focus = seed()
        print(f"{backend}: seeded {N_ARTIFACTS:,} artifacts and a 500-node graph in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        results = measure({**os.environ, "LAMIN_HOME": home}, focus, repeat)
        print(f"\n{backend}, {N_ARTIFACTS + FAN_IN + 1:,} artifacts (median / p90, ms)")
        for name, med, p90, goal in results:
            print(f"  {name:<48} {med:8.1f} {p90:8.1f}   goal {goal}")
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--repeat", type=int, default=20, help="timed requests per measurement")
    args = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "openlineage" / "src"))
    for backend in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
        bench_backend(backend, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
