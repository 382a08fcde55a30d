"""Turn the Python values a Prefect run sees (parameters, return values, assets) into lineage terms.

Two jobs, both pure and engine-free so they are unit-testable without Prefect:

- `params_for_record`: parameters made JSON-safe, with secret-looking names and secret values redacted
  (parameters end up in the database and in `run.params`; a token there is a leak).
- `datasets_in`: the artifacts, collections (their members), local files and fsspec URIs inside a value, as `Dataset`s.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import PurePath
from typing import Any, Iterator
from urllib.parse import unquote, urlsplit

from lamin_core.lineage import Dataset
from lamin_core.tracking.redact import REDACTED, is_secret_name  # the one rule for secret-looking names
MAX_DEPTH = 3  # nested containers deeper than this are summarised, not walked
MAX_ITEMS = 200  # items looked at per container: a list of a million paths is not a parameter to hash
MAX_STR = 1000  # longer strings are truncated in params
MAX_PATH_LEN = 4096

# user:password@ in a URL-ish string: keep the user, hide the password
_URL_PASSWORD = re.compile(r"(?P<pre>[A-Za-z][A-Za-z0-9+.-]*://[^/:@\s]*:)(?P<pw>[^@/\s]+)(?P<post>@)")
_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
# URI schemes never treated as datasets: web pages and service endpoints are parameters, not data
_NOT_DATA_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp", "mailto", "data", "memory", "prefect"})


def _is_secret_value(value: Any) -> bool:
    # pydantic's SecretStr/SecretBytes and Prefect's Secret block never show their value
    return type(value).__name__ in ("SecretStr", "SecretBytes", "Secret")


def _is_artifact(value: Any) -> bool:
    cls = type(value)
    return cls.__name__ == "Artifact" and cls.__module__.startswith("lamin_core")


def jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-safe, secret-free and size-bounded stand-in for a parameter value."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if _is_secret_value(value):
        return REDACTED
    if isinstance(value, str):
        value = _URL_PASSWORD.sub(lambda m: m["pre"] + REDACTED + m["post"], value)
        return value if len(value) <= MAX_STR else value[:MAX_STR] + "..."
    if isinstance(value, PurePath):
        return str(value)
    if _is_artifact(value):
        return {"artifact": getattr(value, "uid", None), "key": getattr(value, "key", None)}
    if _is_collection(value):
        return {"collection": getattr(value, "uid", None), "key": getattr(value, "key", None)}
    if depth >= MAX_DEPTH:
        return f"<{type(value).__name__}>"
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for i, (k, v) in enumerate(value.items()):
            if i >= MAX_ITEMS:
                out["..."] = f"{len(value) - MAX_ITEMS} more"
                break
            out[str(k)] = REDACTED if is_secret_name(str(k)) else jsonable(v, depth + 1)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)[:MAX_ITEMS]
        return [jsonable(v, depth + 1) for v in items]
    shape = getattr(value, "shape", None)
    if shape is not None and isinstance(shape, tuple):
        # DataFrames, arrays: the value itself is data, the shape is what a reader of params wants
        return f"<{type(value).__name__} shape={list(shape)}>"
    # a repr with a memory address would make identical runs look different: keep only the type
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def params_for_record(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as they are saved on the Run: secret-looking names get `***`, values made JSON-safe."""
    return {name: REDACTED if is_secret_name(name) else jsonable(v) for name, v in params.items()}


# ---- datasets ---------------------------------------------------------------------------------------


def dataset_for_uri(uri: str) -> Dataset:
    """An OpenLineage-style dataset for a URI: `file` + absolute path, `s3://bucket` + key, and so on."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in ("", "file"):
        path = unquote(parts.path) if scheme else uri
        return Dataset("file", os.path.abspath(os.path.expanduser(path)))
    return Dataset(f"{scheme}://{parts.netloc}", parts.path.lstrip("/"))


def dataset_for_path(path: str | os.PathLike[str], only_if_file: bool = False) -> Dataset:
    return Dataset("file", os.path.abspath(os.path.expanduser(os.fspath(path))), only_if_file=only_if_file)


def uri_of(dataset: Dataset) -> str:
    """The URI a dataset stands for (its identity when deduplicating inputs and outputs)."""
    if dataset.namespace == "file":
        return dataset.name
    return f"{dataset.namespace}/{dataset.name}"


def artifact_dataset(artifact: Any) -> Dataset | None:
    """The dataset of a saved lamin_core Artifact: its storage path (the core finds it again by content)."""
    if getattr(artifact, "id", None) is None:
        return None  # not saved yet: saving it inside the task makes it an output through the core
    path = getattr(artifact, "path", None)
    if path is None:
        return None
    text = str(path)
    dataset = dataset_for_uri(text) if _URI.match(text) else dataset_for_path(text)
    uid = getattr(artifact, "uid", None)
    return Dataset(dataset.namespace, dataset.name, facets={"lamin_artifact": {"uid": uid}} if uid else {})


def fsspec_protocol_known(scheme: str) -> bool:
    """True when fsspec has an implementation for this scheme (s3, gs, az, hf, ...)."""
    if scheme.lower() in _NOT_DATA_SCHEMES:
        return False
    from fsspec.registry import known_implementations, registry

    return scheme in known_implementations or scheme in registry


def uri_exists(uri: str) -> bool:
    """Whether an fsspec URI names an existing file; unreachable or unknown locations count as absent."""
    try:
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(uri)
        return bool(fs.isfile(path))
    except Exception:  # no credentials, no network, bad bucket: not something we can register
        return False


def _is_collection(value: Any) -> bool:
    cls = type(value)
    return cls.__name__ == "Collection" and cls.__module__.startswith("lamin_core")


def _candidate(value: Any) -> tuple[str, Any] | None:
    """Classify one scalar: ("artifact", obj), ("collection", obj), ("file", abs path), ("uri", uri) or None."""
    if _is_artifact(value):
        return ("artifact", value)
    if _is_collection(value):
        return ("collection", value)
    if isinstance(value, PurePath):
        text = os.fspath(value)
    elif isinstance(value, str):
        text = value
    else:
        return None
    if not text or len(text) > MAX_PATH_LEN or "\n" in text or "\x00" in text:
        return None
    match = _URI.match(text)
    if match:
        scheme = match["scheme"].lower()
        if scheme == "file":
            return ("file", dataset_for_uri(text).name)
        return ("uri", text) if fsspec_protocol_known(scheme) else None
    return ("file", os.path.abspath(os.path.expanduser(text)))


def candidates_in(value: Any, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Every artifact, path-like string and URI inside a value (walking lists, tuples, sets and dicts)."""
    found = _candidate(value)
    if found is not None:
        yield found
        return
    if depth >= MAX_DEPTH:
        return
    if isinstance(value, dict):
        items: Any = list(value.values())[:MAX_ITEMS]
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)[:MAX_ITEMS]
    else:
        return
    for item in items:
        yield from candidates_in(item, depth + 1)


def existing_datasets(candidates: list[tuple[str, Any]], absent: set[str] | None = None) -> dict[str, Dataset]:
    """The candidates that exist right now, keyed by URI: saved artifacts, existing files, existing URIs.

    `absent` collects the paths that do not exist at all (one stat answers both questions)."""
    out: dict[str, Dataset] = {}
    for kind, value in candidates:
        if kind == "collection":  # its members, each naming the collection: the core links it as the input
            if getattr(value, "id", None) is not None:
                from lamin_core.collections.lineage import collection_datasets

                out.update((uri_of(d), d) for d in collection_datasets(value))
            continue
        if kind == "artifact":
            dataset = artifact_dataset(value)
        elif kind == "file":
            try:
                is_file = stat.S_ISREG(os.stat(value).st_mode)
            except FileNotFoundError:
                is_file = False
                if absent is not None:
                    absent.add(value)
            except (OSError, ValueError):
                is_file = False
            dataset = dataset_for_path(value) if is_file else None
        else:
            dataset = dataset_for_uri(value) if uri_exists(value) else None
        if dataset is not None:
            out[uri_of(dataset)] = dataset
    return out


def asset_dataset(asset: Any) -> Dataset:
    """A Prefect `Asset` (its key is a URI such as `s3://bucket/x.csv`) as a dataset, with its metadata."""
    dataset = dataset_for_uri(asset.key)
    properties = getattr(asset, "properties", None)
    facets: dict[str, Any] = {"prefect_asset": {"key": asset.key}}
    if properties is not None:
        facets["prefect_asset"].update(jsonable(properties.model_dump(exclude_unset=True)))
    return Dataset(dataset.namespace, dataset.name, facets=facets)
