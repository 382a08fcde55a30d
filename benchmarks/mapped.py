"""Training-loader throughput: random batches of 256 rows from two 100,000 x 2,000 sparse .h5ad files.

    python benchmarks/mapped.py [--rows 100000] [--vars 2000] [--batches 200]

Compares `MappedCollection.__getitems__` (what `torch.utils.data.DataLoader` calls per batch) with the
floor: plain anndata backed mode (`ad.read_h5ad(path, backed="r")`) plus a hand-written index that maps
each global row to its file and reads the batch's rows of each file sorted, then densifies them
(`X[rows].toarray()`), as a loader must. Both return the same dense rows; the check below asserts it.
The files are generated in a temporary folder (CSR, float32 counts, 5% non-zero) and removed afterwards.
Goal (issue 15): over 20,000 rows/s, within 1.5x of the floor.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BATCH = 256


def make_file(path: Path, n_rows: int, n_vars: int, seed: int) -> None:
    import anndata as ad
    import pandas as pd
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    density = 0.05
    per_row = int(n_vars * density)
    indices = np.sort(np.stack([rng.choice(n_vars, per_row, replace=False) for _ in range(min(n_rows, 1000))]), axis=1)
    indices = np.tile(indices, (n_rows // len(indices) + 1, 1))[:n_rows]  # row patterns repeat: generation stays quick
    data = rng.integers(1, 50, size=indices.size).astype(np.float32)
    indptr = np.arange(0, indices.size + 1, per_row, dtype=np.int64)
    X = sp.csr_matrix((data, indices.ravel().astype(np.int32), indptr), shape=(n_rows, n_vars))
    obs = pd.DataFrame({"cell_type": pd.Categorical(rng.choice(["T cell", "B cell", "NK cell"], n_rows))},
                       index=[f"{path.stem}_{i}" for i in range(n_rows)])
    var = pd.DataFrame(index=[f"gene{i}" for i in range(n_vars)])
    ad.AnnData(X, obs=obs, var=var).write_h5ad(path)


def floor_reader(paths: list[Path]):  # type: ignore[no-untyped-def]
    import anndata as ad

    backed = [ad.read_h5ad(p, backed="r") for p in paths]
    offsets = np.concatenate([[0], np.cumsum([a.n_obs for a in backed])])

    def read(idx: np.ndarray) -> np.ndarray:
        out = np.empty((idx.size, backed[0].n_vars), dtype=np.float32)
        stores = np.searchsorted(offsets, idx, side="right") - 1
        for s in np.unique(stores):
            where = np.nonzero(stores == s)[0]
            rows, inverse = np.unique(idx[where] - offsets[s], return_inverse=True)
            out[where] = backed[s].X[rows].toarray()[inverse]
        return out

    return read, backed


def measure(read, batches: list[np.ndarray]) -> float:  # type: ignore[no-untyped-def]
    read(batches[0])  # warm: files opened, index arrays read
    start = time.perf_counter()
    for b in batches:
        read(b)
    return sum(b.size for b in batches) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--vars", type=int, default=2_000)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from lamin_core.collections.mapped import MappedCollection

    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp, f"part{i}.h5ad") for i in range(2)]
        t0 = time.perf_counter()
        for i, p in enumerate(paths):
            make_file(p, args.rows, args.vars, seed=i)
        print(f"generated 2 files of {args.rows:,} x {args.vars:,} (5% non-zero) in {time.perf_counter() - t0:.1f} s")
        rng = np.random.default_rng(0)
        n = 2 * args.rows
        batches = [rng.integers(0, n, BATCH) for _ in range(args.batches)]
        floor, _backed = floor_reader(paths)
        dataset = MappedCollection(paths, obs_keys=["cell_type"], join="inner")

        def ours(idx: np.ndarray) -> np.ndarray:
            return np.stack([s["X"] for s in dataset.__getitems__(idx)])

        assert np.array_equal(ours(batches[0]), floor(batches[0])), "the loader and the floor read different rows"
        rates_ours, rates_floor = [], []
        for _ in range(args.rounds):  # alternate, so that a busy moment hits both
            rates_floor.append(measure(floor, batches))
            rates_ours.append(measure(ours, batches))
        best_ours, best_floor = max(rates_ours), max(rates_floor)
        print(f"random batches of {BATCH} rows, {args.batches} batches, best of {args.rounds} rounds:")
        print(f"  MappedCollection.__getitems__     {best_ours:>10,.0f} rows/s")
        print(f"  anndata backed + hand index       {best_floor:>10,.0f} rows/s")
        print(f"  ratio floor/ours                  {best_floor / best_ours:>10.2f}x  (goal: <= 1.5x and > 20,000 rows/s)")
        dataset.close()


if __name__ == "__main__":
    main()
