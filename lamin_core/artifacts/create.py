"""Building an Artifact from a path, a URI, a DataFrame or an AnnData (nothing is written yet).

The content is hashed here, so `artifact.hash` is known before `save()`; where the data goes, whether
this is a new version and whether the content is already registered is decided by `save()`, under the
database's write lock, so that concurrent savers agree.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import ids, log
from ..storage import hashing
from ..storage.keys import suffix_of, validate_key
from ..storage.paths import is_local, strip_file_scheme
from ..storage.registry import find_storage_root, remote_root_of

if TYPE_CHECKING:
    from ..models import Artifact

DEFER_HASH_FROM = 64 * 1024 * 1024
ARTIFACT_KINDS = (None, "dataset", "model", "log", "benchmark", "report", "environment", "plan", "source")


def init_artifact(
    artifact: "Artifact",
    path: Any,
    *,
    key: str | None = None,
    description: str | None = None,
    revises: "Artifact | None" = None,
    run: Any = None,
    kind: str | None = None,
    version: str | None = None,
    otype: str | None = None,
    _fields: dict[str, Any] | None = None,
    _owned: bool = False,
) -> None:
    from ..models import SQLRecord

    if _fields is not None:  # the recording path builds rows it has already resolved
        SQLRecord.__init__(artifact, **_fields)
        return
    values = path_values(
        path, key=key, description=description, kind=kind, version=version, otype=otype,
        inherited_key=revises.key if revises is not None else None,
    )
    state = {name: values.pop(name) for name in list(values) if name.startswith("_")}
    SQLRecord.__init__(artifact, **values)
    artifact.uid = ids.versioned_uid(16)
    artifact.__dict__.update(state)  # _storage_root, _source (and _placed_key): what save() needs to know
    if run is not None:
        artifact.run = run
    artifact._revises = revises
    artifact._owned_source = _owned


def path_values(
    path: Any,
    *,
    key: str | None = None,
    description: str | None = None,
    kind: str | None = None,
    version: str | None = None,
    otype: str | None = None,
    inherited_key: str | None = None,
) -> dict[str, Any]:
    """What a new artifact of a file, folder or URI is, as plain values (no ORM): its columns (hash, size,
    suffix, n_files, key, managed, ...) and the state `save()` needs: `_storage_root` (None: the instance's
    default storage), `_source` (a local path to copy in; None when registered in place) and, for data
    registered in place, `_placed_key` (its data lies there: save() refuses another key).

    `Artifact(path, ...)` and `lamin save FILE` (plain.py, without the ORM) both describe paths with this.
    """
    if path is None:
        raise ValueError("Artifact() needs a path, a folder or a URI; for in-memory objects use Artifact.from_dataframe()")
    if kind not in ARTIFACT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(str(k) for k in ARTIFACT_KINDS)}, not {kind!r}")
    if key is not None:
        validate_key(key)
    if key is None:
        key = inherited_key  # `revises`: the key of the artifact revised
    source = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
    values: dict[str, Any] = dict(description=description, kind=kind, version=version, otype=otype)
    if is_local(source):
        values.update(_local_fields(strip_file_scheme(source), key))
    else:
        values.update(_remote_fields(source, key))
    if not values["managed"]:
        values["_placed_key"] = values["key"]
    return values


def _local_fields(source: str, key: str | None) -> dict[str, Any]:
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no file or folder at {path}")
    path = path.resolve()
    root = find_storage_root(str(path))
    if path.is_dir():
        digest, size, n_files = hashing.hash_dir(path)
        hash_type, suffix = hashing.DIR_HASH_TYPE, ""
    else:
        size = path.stat().st_size
        # a large file that save() copies in is hashed on the way, in one pass (see hashing.copy_and_hash)
        defer = root is None and size >= DEFER_HASH_FROM
        digest = None if defer else hashing.hash_file(path, size)
        hash_type, n_files = hashing.HASH_TYPE, None
        suffix = suffix_of(key or path.name)
    fields: dict[str, Any] = dict(size=size, hash=digest, hash_type=hash_type, n_files=n_files, suffix=suffix)
    if root is not None:  # inside a registered storage location: register in place, never copy
        rel = path.relative_to(root).as_posix()
        if key is not None and key != rel:
            log.warning("%s lies in the storage location %s: registered in place with key %r, not %r", path, root, rel, key)
        fields.update(key=rel, managed=False, _storage_root=root, _source=None)
    else:
        fields.update(key=key, managed=True, _storage_root=None, _source=str(path))
    return fields


def _remote_fields(uri: str, key: str | None) -> dict[str, Any]:
    from ..storage.remote import describe_remote

    root = find_storage_root(uri) or remote_root_of(uri)
    rel = uri[len(root) :].strip("/")
    info = describe_remote(uri)
    return dict(
        key=rel or key,
        suffix=suffix_of(rel) if not info.is_dir else "",
        size=info.size,
        hash=info.hash,
        hash_type=info.hash_type,
        n_files=info.n_files,
        managed=False,
        _storage_root=root,
        _source=None,
    )


def from_dataframe(
    df: Any,
    *,
    key: str | None = None,
    description: str | None = None,
    schema: Any = None,
    _validation: Any = None,
    **kwargs: Any,
) -> "Artifact":
    """With `schema`, the DataFrame is validated first (raising `ln.errors.ValidationError`, nothing written)
    and `save()` annotates the artifact; `_validation` is a curator's result for the same DataFrame."""
    from ..models import Artifact

    if key is not None and not key.endswith(".parquet"):
        suffix = suffix_of(key)
        if suffix and suffix != ".parquet":
            raise ValueError(f"a DataFrame is saved as parquet: the key should end with .parquet, not {suffix}")
    if schema is not None and _validation is None:
        _validation = _validate(df, schema)
    if _validation is not None:
        df = _validation.df  # coerced where the schema or a feature asked for it
    path = _scratch_file(".parquet")
    df.to_parquet(path)
    artifact = Artifact(path, key=key, description=description, otype="DataFrame", _owned=True, **kwargs)
    artifact.suffix = ".parquet"
    if _validation is not None:
        artifact.schema_id = _validation.schema.id
        artifact._validation = _validation  # save() writes the annotations in the artifact's transaction
    return artifact


def _validate(df: Any, schema: Any) -> Any:
    from ..annotate.validate import validate_dataframe
    from ..errors import ValidationError
    from ..models import Schema

    if not isinstance(schema, Schema):
        raise ValidationError(f"schema= takes an ln.Schema, not {schema!r}")
    if schema.id is None:
        raise ValidationError("save the schema before validating against it: schema = ln.Schema(...).save()")
    return validate_dataframe(df, schema)


def from_anndata(
    adata: Any, *, key: str | None = None, description: str | None = None, schema: Any = None, **kwargs: Any
) -> "Artifact":
    """An .h5ad file, or a .zarr folder when the key ends with .zarr (`format="zarr"`), written from `adata`.

    With `schema` (a composite: `ln.Schema(otype="AnnData", slots={...})`) every slot is validated first,
    raising one `ln.errors.ValidationError` that names each slot, column and bad value (nothing written);
    `save()` then links each slot's feature set to the artifact in its own transaction.
    """
    from ..models import Artifact

    fmt = kwargs.pop("format", None) or ("zarr" if key is not None and key.rstrip("/").endswith(".zarr") else "h5ad")
    if fmt not in ("h5ad", "zarr"):
        raise ValueError(f"format must be 'h5ad' or 'zarr', not {fmt!r}")
    suffix = f".{fmt}"
    if key is not None and suffix_of(key) not in ("", suffix):
        raise ValueError(f"an AnnData is saved as {suffix}: the key should end with {suffix}, not {suffix_of(key)}")
    validation = None
    if schema is not None:
        from ..annotate.validate_anndata import validate_anndata
        from ..models import Schema

        if not isinstance(schema, Schema):
            from ..errors import ValidationError

            raise ValidationError(f"schema= takes an ln.Schema, not {schema!r}")
        validation = validate_anndata(adata, schema)
    if fmt == "zarr":
        import shutil
        import weakref

        path = _scratch_file(".zarr")
        os.remove(path)  # a folder goes where the placeholder file was
        adata.write_zarr(path)
        # save() copies a folder in (it renames only owned files): the scratch folder goes with this object
        artifact = Artifact(path, key=key, description=description, otype="AnnData", **kwargs)
        weakref.finalize(artifact, shutil.rmtree, path, True)
    else:
        path = _scratch_file(".h5ad")
        adata.write_h5ad(path)
        artifact = Artifact(path, key=key, description=description, otype="AnnData", _owned=True, **kwargs)
    artifact.suffix = suffix
    if validation is not None:
        artifact.schema_id = schema.id
        artifact._validation = validation  # save() writes the annotations in the artifact's transaction
    return artifact


def _scratch_file(suffix: str) -> str:
    import tempfile

    from ..db import engine as db
    from ..setup.settings import cache_dir
    from ..storage.managed import staging_prefix

    # in this process's staging folder of the instance's local storage when there is one, so save() can move
    # it instead of copying, and `lamin gc` removes it if the process dies before saving
    root = db.settings().storage_root
    folder = Path(root, staging_prefix()) if is_local(root) else cache_dir() / "_scratch"
    folder.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(suffix=suffix, dir=folder)
    os.close(fd)
    return path
