"""`collection.mapped()`: a map-style dataset over the rows of the members' .h5ad files, read lazily with h5py.

What `torch.utils.data.DataLoader` needs and nothing more, so lamin-core never imports torch:
- `len(dataset)` and `dataset[i]` -> `{"X": row, "_store_idx": member, <obs_key>: label code, ...}`; any sampler
  works (`WeightedRandomSampler(dataset.get_label_weights("cell_medium"), ...)`);
- `dataset.__getitems__(indices)`: DataLoader (torch >= 2.0) asks for a whole batch at once; rows of one file
  are read in one HDF5 call per array (a union of hyperslabs over `data` and `indices`), which is what makes
  random batches fast, as fast as anndata's backed mode with a hand-written index (`benchmarks/mapped.py`);
- pickling: open files and caches are dropped (`__getstate__`) and reopened on first use, so each DataLoader
  worker process reads through its own handles; `parallel=True` says the dataset will be used that way and
  also closes the parent's handles before the workers start.

Rows are dense numpy arrays over the joined variables: `join="inner"` (the variables every member has, in the
first member's order) or `"outer"` (all of them; a variable a member lacks reads as 0). Labels of `obs_keys`
are read into memory once (a code per row) and encoded over all members (`dataset.encoders`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    import numpy as np

    from ..models import Collection

MAPPED_OPTIONS = ("layers_keys", "obs_keys", "join", "encode_labels", "unknown_label", "parallel", "dtype")


def mapped(collection: "Collection", obs_keys: Any = None, **kwargs: Any) -> "MappedCollection":
    from ..artifacts.access import cache
    from .access import members, register_input

    unknown = sorted(set(kwargs) - set(MAPPED_OPTIONS))
    if unknown:
        raise TypeError(f"mapped() got unknown argument(s) {', '.join(unknown)}; it takes obs_keys, {', '.join(MAPPED_OPTIONS[:1] + MAPPED_OPTIONS[2:])}")
    items = members(collection)
    wrong = [a.key or a.uid for a in items if (a.suffix or "").lower() != ".h5ad"]
    if wrong:
        raise NotImplementedError(
            f"mapped() reads .h5ad members; these are not: {', '.join(wrong[:10])} → save them with ln.Artifact.from_anndata(adata, key='....h5ad')"
        )
    paths = [str(cache(a, _track=False)) for a in items]
    register_input(collection)
    return MappedCollection(paths, obs_keys=obs_keys, **kwargs)


class MappedCollection:
    """Rows of several .h5ad files as one indexable dataset (see the module docstring)."""

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        layers_keys: str | list[str] | None = None,
        obs_keys: str | list[str] | None = None,
        join: str | None = "inner",
        encode_labels: bool | list[str] = True,
        unknown_label: str | dict[str, str] | None = None,
        parallel: bool = False,
        dtype: str | None = None,
    ) -> None:
        import numpy as np

        if join not in ("inner", "outer", None):
            raise ValueError(f"join must be 'inner', 'outer' or None (every member has the same variables), not {join!r}")
        self.paths = [os.fspath(p) for p in paths]
        if not self.paths:
            raise ValueError("mapped() needs at least one .h5ad file")
        self.layers_keys = [layers_keys] if isinstance(layers_keys, str) else list(layers_keys or ["X"])
        self.obs_keys = [obs_keys] if isinstance(obs_keys, str) else list(obs_keys or [])
        self.join, self.parallel = join, parallel
        encoded = self.obs_keys if encode_labels is True else list(encode_labels or [])
        self._files: dict[int, Any] = {}
        self._indptr: dict[tuple[int, str], Any] = {}
        n_obs, var_names, dtypes, labels = [], [], [], {k: [] for k in self.obs_keys}
        problems: list[str] = []
        for i, path in enumerate(self.paths):
            f = self._file(i)
            n, names, x_dtype = _describe_store(f, self.layers_keys, path, problems)
            n_obs.append(n)
            var_names.append(names)
            dtypes.append(x_dtype)
            for key in self.obs_keys:
                if key not in f["obs"]:
                    problems.append(f"{os.path.basename(path)}: obs has no column {key!r}")
                    continue
                labels[key].append(_read_labels(f["obs"][key]))
        if problems:
            self.close()
            raise ValueError("cannot map these files:\n- " + "\n- ".join(problems))
        self.n_obs_list = n_obs
        self._offsets = np.concatenate([[0], np.cumsum(n_obs)]).astype(np.int64)
        self.n_obs = int(self._offsets[-1])
        self.var_joint, self._var_maps = _join_vars(var_names, join)
        self.n_vars = len(self.var_joint)
        self.dtype = np.dtype(dtype) if dtype is not None else np.result_type(*dtypes)
        self.encoders: dict[str, dict[Any, int]] = {}
        self._labels: dict[str, Any] = {}  # per key: codes (encoded) or values, one per row
        for key in self.obs_keys:
            values = np.concatenate(labels[key])
            if key in encoded:
                unknown = unknown_label.get(key) if isinstance(unknown_label, dict) else unknown_label
                categories = sorted({v for v in values.tolist() if v != unknown}, key=str)
                if unknown is not None:
                    categories.append(unknown)
                self.encoders[key] = {c: j for j, c in enumerate(categories)}
                self._labels[key] = np.asarray([self.encoders[key][v] for v in values.tolist()], dtype=np.int64)
            else:
                self._labels[key] = values
        self._label_values = {key: np.concatenate(labels[key]) for key in self.obs_keys}
        if parallel:
            self.close()  # workers reopen their own handles; the parent keeps none to share

    # ---- the map-style dataset protocol ----

    def __len__(self) -> int:
        return self.n_obs

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_obs, self.n_vars

    def __getitem__(self, idx: int) -> dict[str, Any]:
        return self.__getitems__([idx])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """Samples for a batch of row indices, in the order asked; each file's rows are read in one go."""
        import numpy as np

        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -self.n_obs or idx.max() >= self.n_obs):
            raise IndexError(f"index out of range for a dataset of {self.n_obs} rows")
        idx = np.where(idx < 0, idx + self.n_obs, idx)
        stores = np.searchsorted(self._offsets, idx, side="right") - 1
        arrays = {layer: np.empty((idx.size, self.n_vars), dtype=self.dtype) for layer in self.layers_keys}
        for store in np.unique(stores):
            where = np.nonzero(stores == store)[0]
            local = idx[where] - self._offsets[store]
            rows, inverse = np.unique(local, return_inverse=True)  # HDF5 reads ascending, each row once
            for layer in self.layers_keys:
                block = self._read_rows(int(store), layer, rows)
                arrays[layer][where] = block[inverse]
        samples = []
        for j in range(idx.size):
            sample = {layer: arrays[layer][j] for layer in self.layers_keys}
            sample["_store_idx"] = int(stores[j])
            for key in self.obs_keys:
                sample[key] = self._labels[key][idx[j]]
            samples.append(sample)
        return samples

    # ---- labels for samplers ----

    def get_label_weights(self, obs_keys: str | list[str], scaler: float | None = None) -> "np.ndarray":
        """A weight per row, inversely proportional to how often its label (or label combination) occurs:
        `WeightedRandomSampler(weights=dataset.get_label_weights("cell_type"), num_samples=len(dataset))`."""
        import numpy as np
        import pandas as pd

        keys = [obs_keys] if isinstance(obs_keys, str) else list(obs_keys)
        missing = [k for k in keys if k not in self._label_values]
        if missing:
            raise ValueError(f"labels of {', '.join(map(repr, missing))} were not read: pass them in mapped(obs_keys=[...])")
        combined = pd.Series(self._label_values[keys[0]].astype(str))
        for k in keys[1:]:
            combined = combined + "\x1f" + pd.Series(self._label_values[k].astype(str))
        counts = combined.map(combined.value_counts()).to_numpy(dtype=np.float64)
        if scaler is not None:  # LaminDB's: soften the weights of rare labels
            counts = counts + scaler * counts.max()
        return 1.0 / counts

    def get_merged_labels(self, label_key: str) -> "np.ndarray":
        """The labels of `label_key` for every row (not encoded)."""
        return self._label_values[label_key]

    def get_merged_categories(self, label_key: str) -> list[Any]:
        return sorted(set(self._label_values[label_key].tolist()), key=str)

    # ---- files ----

    def _file(self, store: int) -> Any:
        f = self._files.get(store)
        if f is None:
            from .._optional import require

            h5py = require("h5py", extra="anndata", needed_for="collection.mapped()")
            f = self._files[store] = h5py.File(self.paths[store], "r")
        return f

    def _read_rows(self, store: int, layer: str, rows: "np.ndarray") -> "np.ndarray":
        """Dense rows (ascending, unique) of one file's X or layer, over the joined variables."""
        import numpy as np

        f = self._file(store)
        elem = f["X"] if layer == "X" else f["layers"][layer]
        out = np.zeros((rows.size, self.n_vars), dtype=self.dtype)
        var_map = self._var_maps[store]  # store column -> joined column (-1: dropped); None: the same
        if hasattr(elem, "shape") and not hasattr(elem, "keys"):  # dense
            block = elem[rows] if rows.size > 1 else elem[int(rows[0])][None, :]
            if var_map is None:
                out[:] = block
            else:
                keep = var_map >= 0
                out[:, var_map[keep]] = block[:, keep]
            return out
        encoding = elem.attrs.get("encoding-type", "")
        if encoding != "csr_matrix":
            import anndata as ad

            block = ad.io.sparse_dataset(elem)[rows].toarray()  # CSC: no cheap row access; anndata does it
            if var_map is None:
                out[:] = block
            else:
                keep = var_map >= 0
                out[:, var_map[keep]] = block[:, keep]
            return out
        indptr = self._indptr.get((store, layer))
        if indptr is None:
            indptr = self._indptr[(store, layer)] = elem["indptr"][:]
        starts, ends = indptr[rows], indptr[rows + 1]
        data = _read_ranges(elem["data"], starts, ends)
        cols = _read_ranges(elem["indices"], starts, ends)
        row_of = np.repeat(np.arange(rows.size), (ends - starts).astype(np.int64))
        if var_map is not None:
            cols = var_map[cols]
            keep = cols >= 0
            row_of, cols, data = row_of[keep], cols[keep], data[keep]
        out[row_of, cols] = data
        return out

    def close(self) -> None:
        """Close the open files (they reopen on the next read)."""
        for f in self._files.values():
            try:
                f.close()
            except Exception:  # already closed, or the interpreter is shutting down
                pass
        self._files = {}
        self._indptr = {}

    def __enter__(self) -> "MappedCollection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if "_files" in self.__dict__:
            self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_files"], state["_indptr"] = {}, {}  # h5py handles do not cross processes: each worker opens its own
        return state

    def __repr__(self) -> str:
        return f"MappedCollection({self.n_obs} rows x {self.n_vars} variables from {len(self.paths)} files, join={self.join!r})"


def _describe_store(f: Any, layers: list[str], path: str, problems: list[str]) -> tuple[int, list[str], Any]:
    import anndata as ad
    import numpy as np

    var_names = [str(v) for v in ad.io.read_elem(f["var"]).index]
    name = os.path.basename(path)
    x_dtype, n = np.dtype("float32"), 0
    obs = f["obs"]
    index_name = obs.attrs.get("_index", "_index")
    if index_name in obs:
        n = int(obs[index_name].shape[0])
    for layer in layers:
        elem = f["X"] if layer == "X" and "X" in f else f["layers"][layer] if "layers" in f and layer in f["layers"] else None
        if elem is None:
            problems.append(f"{name}: no {'X' if layer == 'X' else f'layer {layer!r}'}")
            continue
        x_dtype = elem["data"].dtype if hasattr(elem, "keys") else elem.dtype
        n = int(elem.attrs["shape"][0]) if hasattr(elem, "keys") else int(elem.shape[0])
    return n, var_names, x_dtype


def _read_labels(elem: Any) -> "np.ndarray":
    """An obs column's values, as an object array (categoricals decoded)."""
    import anndata as ad
    import numpy as np

    values = ad.io.read_elem(elem)
    return np.asarray(values.astype(object) if hasattr(values, "astype") else values, dtype=object)


def _join_vars(var_names: list[list[str]], join: str | None) -> tuple[list[str], list[Any]]:
    """The joined variables, and per file a map from its columns to them (None where they are the same)."""
    import numpy as np

    first = var_names[0]
    if join is None:
        different = [i for i, names in enumerate(var_names) if names != first]
        if different:
            raise ValueError(f"files {different} have other variables than file 0: use join='inner' or 'outer'")
        return first, [None] * len(var_names)
    if join == "inner":
        common = set(first).intersection(*var_names[1:])
        joint = [v for v in first if v in common]
    else:
        seen: dict[str, None] = {}
        for names in var_names:
            seen.update(dict.fromkeys(names))
        joint = list(seen)
    position = {v: i for i, v in enumerate(joint)}
    maps: list[Any] = []
    for names in var_names:
        if names == joint:
            maps.append(None)
        else:
            maps.append(np.asarray([position.get(v, -1) for v in names], dtype=np.int64))
    return joint, maps


def _read_ranges(dataset: Any, starts: "np.ndarray", ends: "np.ndarray") -> "np.ndarray":
    """`concatenate(dataset[s:e] for s, e in ranges)` in one HDF5 read: the union of the ranges as one selection
    (ranges ascending and disjoint, as a CSR's rows in ascending order are)."""
    import h5py
    import numpy as np

    lengths = ends - starts
    total = int(lengths.sum())
    out = np.empty(total, dtype=dataset.dtype)
    if total == 0:
        return out
    file_space = dataset.id.get_space()
    file_space.select_none()
    for s, n in zip(starts[lengths > 0].tolist(), lengths[lengths > 0].tolist()):
        file_space.select_hyperslab((s,), (n,), op=h5py.h5s.SELECT_OR)
    memory_space = h5py.h5s.create_simple((total,))
    dataset.id.read(memory_space, file_space, out)
    return out
