"""Annotations side by side with LaminDB: the same code, `import lamin_core as ln` vs `import lamindb as ln`.

    .venv/bin/python benchmarks/peer_annotations.py --lamindb-python /path/to/venv-with-lamindb/bin/python
    [--artifacts 1000] [--rows 1000000] [--repeat 20]

Each tool runs in a fresh process on a new SQLite instance (LaminDB's: `lamin init --storage`, settings in a
temporary LAMIN_SETTINGS_DIR; it needs no network for this). What is timed (warm medians):
  - validating a DataFrame of --rows rows x 10 categorical columns (5 pandas categoricals, 5 object columns)
    of 100 registered ULabels each against a schema of 10 ULabel-typed features (the object columns' features
    with coerce=True, which LaminDB needs for them) with DataFrameCurator.validate();
  - with --artifacts artifacts made through the public API, each annotated with 10 feature values (6 float,
    2 str, 2 ULabel): filter(<float feature>=value).to_dataframe(), filter(<label feature>=name).to_dataframe(),
    and to_dataframe(include="features") of all of them.
Without --lamindb-python (or $LAMINDB_PYTHON) only lamin-core's column is printed. LaminDB's public API is
slow to fill (each save is a transaction of its own), so the artifact count is kept small; benchmarks/annotations.py
measures lamin-core at 1,000,000 artifacts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

WORKLOAD = r'''
import json, statistics, sys, time
import numpy as np, pandas as pd
ARGS = json.loads(sys.argv[1])
import {module} as ln

def timed(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); fn(); times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)

out = {{}}
labels = [f"label_{{i}}" for i in range(100)]
ln.save([ln.ULabel(name=n) for n in labels])
# object columns need coerce=True in LaminDB (it wants the category dtype); the same in both
cat_features = [ln.Feature(name=f"c{{k}}", dtype=ln.ULabel, coerce=k >= 5).save() for k in range(10)]
schema = ln.Schema(features=cat_features).save()
rng = np.random.default_rng(0)
rows = ARGS["rows"]
df = pd.DataFrame({{f"c{{k}}": (pd.Categorical(rng.choice(labels, rows)) if k < 5 else rng.choice(labels, rows).astype(object))
                   for k in range(10)}})
out["validate"] = timed(lambda: ln.curators.DataFrameCurator(df, schema).validate(), max(ARGS["repeat"] // 4, 3))

for k in range(6):
    ln.Feature(name=f"f_{{k}}", dtype=float).save()
for k in range(2):
    ln.Feature(name=f"s_{{k}}", dtype=str).save()
for k in range(2):
    ln.Feature(name=f"l_{{k}}", dtype=ln.ULabel).save()
n = ARGS["artifacts"]
t0 = time.perf_counter()
for i in range(n):
    a = ln.Artifact.from_dataframe(pd.DataFrame({{"i": [i]}}), key=f"bench/{{i}}.parquet").save()
    values = {{f"f_{{k}}": float(i % 100) + k / 10 for k in range(6)}}
    values.update({{f"s_{{k}}": f"sample_{{i % 100}}" for k in range(2)}})
    values.update({{f"l_{{k}}": labels[(i + k) % 100] for k in range(2)}})
    a.features.add_values(values)
out["fill_s"] = time.perf_counter() - t0
state = {{"i": 0}}
def nxt():
    state["i"] += 1
    return state["i"] % 100
out["filter_float"] = timed(lambda: ln.Artifact.filter(f_0=float(nxt())).to_dataframe(), ARGS["repeat"])
out["filter_label"] = timed(lambda: ln.Artifact.filter(l_0=labels[nxt()]).to_dataframe(), ARGS["repeat"])
out["frame_features"] = timed(lambda: ln.Artifact.to_dataframe(limit=n, include="features"), ARGS["repeat"])
check = ln.Artifact.to_dataframe(limit=n, include="features")
assert len(check) == n and "f_0" in check.columns, check.columns
print("RESULT " + json.dumps(out))
'''


def run_one(python: str, module: str, args: dict, home: Path) -> dict:
    env = {**os.environ}
    storage = home / "storage"
    if module == "lamindb":
        env["LAMIN_SETTINGS_DIR"] = str(home / "settings")
        lamin = Path(python).with_name("lamin")
        subprocess.run([str(lamin), "init", "--storage", str(storage)], env=env, check=True, capture_output=True, cwd=home)
    else:
        env["LAMIN_HOME"] = str(home / "settings")
        subprocess.run([python, "-c", f"import lamin_core as ln; ln.setup.init(storage={str(storage)!r})"], env=env, check=True)
    code = WORKLOAD.format(module=module)
    done = subprocess.run([python, "-c", code, json.dumps(args)], env=env, capture_output=True, text=True, cwd=home)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"{module} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lamindb-python", default=os.environ.get("LAMINDB_PYTHON"))
    p.add_argument("--artifacts", type=int, default=1000)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=20)
    a = p.parse_args()
    args = {"artifacts": a.artifacts, "rows": a.rows, "repeat": a.repeat}
    results = {}
    with tempfile.TemporaryDirectory() as d:
        results["lamin-core"] = run_one(sys.executable, "lamin_core", args, Path(d, "core"))
        if a.lamindb_python:
            Path(d, "peer").mkdir()
            results["LaminDB"] = run_one(a.lamindb_python, "lamindb", args, Path(d, "peer"))
    rows = [
        (f"validate {a.rows:,} rows x 10 categorical columns (DataFrameCurator)", "validate", "ms"),
        (f"fill: {a.artifacts:,} artifacts saved + 10 feature values each", "fill_s", "s"),
        ("filter(<float feature>=v).to_dataframe()", "filter_float", "ms"),
        ("filter(<label feature>=name).to_dataframe()", "filter_label", "ms"),
        (f'to_dataframe(include="features") of {a.artifacts:,} artifacts', "frame_features", "ms"),
    ]
    names = list(results)
    print(f"{'operation (SQLite, warm medians)':<70}" + "".join(f"{n:>14}" for n in names))
    for label, key, unit in rows:
        print(f"{label:<70}" + "".join(f"{results[n][key]:>12.1f}{unit:>2}" for n in names))
    if "LaminDB" not in results:
        print("(LaminDB not measured: pass --lamindb-python or set LAMINDB_PYTHON)")


if __name__ == "__main__":
    main()
