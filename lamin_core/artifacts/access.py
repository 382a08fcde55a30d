"""Reading artifacts back: their path, a local cached copy, in-memory loading, streaming access.

Loading, caching or opening an artifact while a run is active makes it an input of that run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..storage.paths import filesystem, is_local, join

if TYPE_CHECKING:
    from ..models import Artifact


def storage_key(artifact: "Artifact") -> str:
    if artifact.managed:
        from ..storage.managed import managed_key

        return managed_key(artifact.uid, artifact.suffix)
    return artifact.key or ""


def artifact_uri(artifact: "Artifact") -> str:
    return join(artifact.storage.root, storage_key(artifact))


def artifact_path(artifact: "Artifact") -> Any:
    uri = artifact_uri(artifact)
    if is_local(uri):
        return Path(uri)
    from ..storage.upath import UPath

    return UPath(uri)


def cache(artifact: "Artifact", *, _track: bool = True) -> Path:
    """A local path to the data: the file itself for local storage, a downloaded copy otherwise."""
    uri = artifact_uri(artifact)
    if _track:
        _mark_input(artifact)
    if is_local(uri):
        if not os.path.exists(uri):
            raise FileNotFoundError(f"the data of artifact {artifact.uid} is missing at {uri}")
        return Path(uri)
    from ..setup.settings import cache_dir

    scheme, rest = uri.split("://", 1)
    local = cache_dir() / scheme / rest
    if not local.exists() or (artifact.size is not None and artifact.n_files is None and local.stat().st_size != artifact.size):
        local.parent.mkdir(parents=True, exist_ok=True)
        fs = filesystem(uri)
        tmp = local.with_name(local.name + ".partial")
        if artifact.n_files is not None:  # a folder
            fs.get(uri.rstrip("/") + "/", str(local), recursive=True)
        else:
            from ..storage.progress import copy_progress, fsspec_callback

            try:
                with copy_progress(artifact.size, f"downloading {local.name}") as advance:
                    fs.get_file(uri, str(tmp), callback=fsspec_callback(advance))
            except BaseException:  # Ctrl-C or a broken connection: no partial file stays behind
                tmp.unlink(missing_ok=True)
                raise
            os.replace(tmp, local)  # a half-finished download never looks like a cached copy
    return local


def _read_parquet(path: Path, **kw: Any) -> Any:
    import pandas as pd

    return pd.read_parquet(path, **kw)


def _read_csv(path: Path, **kw: Any) -> Any:
    import pandas as pd

    return pd.read_csv(path, **kw)


def _read_tsv(path: Path, **kw: Any) -> Any:
    import pandas as pd

    return pd.read_csv(path, sep="\t", **kw)


def _read_h5ad(path: Path, **kw: Any) -> Any:
    from .._optional import require

    ad = require("anndata", extra="anndata", needed_for="loading .h5ad artifacts")

    return ad.read_h5ad(path, **kw)


def _read_zarr(path: Path, **kw: Any) -> Any:
    from .._optional import require

    ad = require("anndata", extra="anndata", needed_for="loading .zarr AnnData artifacts")

    return ad.read_zarr(path, **kw)


def _open_zarr_anndata(path: Path) -> Any:
    """An AnnData over a .zarr folder whose X stays on disk (a zarr array, or a sparse dataset read by slices).

    anndata's own lazy reader (`anndata.experimental.read_lazy`) needs dask and xarray; this needs neither:
    obs and var are read, X is not, layers and obsm are left out (load() reads everything).
    """
    import zarr

    from .._optional import require

    ad = require("anndata", extra="anndata", needed_for="opening .zarr AnnData artifacts")
    group = zarr.open_group(str(path), mode="r")
    x = group["X"] if "X" in group else None
    if x is not None and not hasattr(x, "shape"):  # a sparse matrix is a group (data, indices, indptr)
        x = ad.io.sparse_dataset(x)
    return ad.AnnData(X=x, obs=ad.io.read_elem(group["obs"]), var=ad.io.read_elem(group["var"]))


def _read_json(path: Path, **kw: Any) -> Any:
    with open(path) as f:
        return json.load(f, **kw)


def _read_text(path: Path, **kw: Any) -> Any:
    return Path(path).read_text(**kw)


LOADERS: dict[str, Callable[..., Any]] = {
    ".parquet": _read_parquet,
    ".csv": _read_csv,
    ".tsv": _read_tsv,
    ".h5ad": _read_h5ad,
    ".zarr": _read_zarr,
    ".json": _read_json,
    ".txt": _read_text,
    ".md": _read_text,
    ".log": _read_text,
    ".yaml": _read_text,
    ".yml": _read_text,
    ".html": _read_text,
}


def load(artifact: "Artifact", **kwargs: Any) -> Any:
    loader = LOADERS.get((artifact.suffix or "").lower())
    if loader is None:
        known = ", ".join(sorted(LOADERS))
        raise NotImplementedError(
            f"no loader for suffix {artifact.suffix!r} (known: {known}); use artifact.cache() for a local path"
        )
    return loader(cache(artifact), **kwargs)


def open_artifact(artifact: "Artifact", **kwargs: Any) -> Any:
    """Stream without loading: a pyarrow dataset for parquet, a backed AnnData for h5ad and zarr (X stays on disk)."""
    suffix = (artifact.suffix or "").lower()
    if suffix == ".parquet" or (artifact.n_files and artifact.otype == "DataFrame"):
        import pyarrow.dataset as pads

        uri = artifact_uri(artifact)
        _mark_input(artifact)
        if is_local(uri):
            return pads.dataset(uri, format="parquet", **kwargs)
        fs = filesystem(uri)
        return pads.dataset(uri.split("://", 1)[1], format="parquet", filesystem=fs, **kwargs)
    if suffix == ".h5ad":
        from .._optional import require

        ad = require("anndata", extra="anndata", needed_for="opening .h5ad artifacts")

        return ad.read_h5ad(cache(artifact), backed="r", **kwargs)
    if suffix == ".zarr" and artifact.otype == "AnnData":
        return _open_zarr_anndata(cache(artifact))
    raise NotImplementedError(f"open() streams .parquet, .h5ad and .zarr (AnnData) artifacts, not {suffix or 'this artifact'}; use load() or cache()")


def _mark_input(artifact: "Artifact") -> None:
    from ..tracking.context import register_input

    register_input(artifact)
