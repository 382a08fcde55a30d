"""The OpenLineage names of lamin-core's records: one mapping, used wherever lineage leaves the instance.

The exporter (`lamin openlineage export`), the live forwarder (`lineage/outbox.py`) and the Marquez read
API of `lamin serve` all name jobs, runs and datasets with these functions, so that the same record has
one id in every direction, and an event sent out and ingested again maps back to the same records.
"""

from __future__ import annotations

from typing import Any

from .openlineage_json import dataset_from_uri, exported_namespace, openlineage_run_id


def job_identity(key: str | None, uid: str, facets: dict[str, Any] | None) -> tuple[str, str]:
    """A transform's OpenLineage (namespace, name) as lamin-core keeps it; the namespace is "" when it had none."""
    ident = (facets or {}).get("job")
    if isinstance(ident, dict) and "name" in ident:
        return ident.get("namespace") or "", ident["name"]
    return "", key or uid  # recorded by a path that kept no OpenLineage identity (ln.track): the key, without a namespace


def job_id(key: str | None, uid: str, facets: dict[str, Any] | None) -> tuple[str, str]:
    """The (namespace, name) a transform's job has in exported events (and so in any OpenLineage backend)."""
    namespace, name = job_identity(key, uid, facets)
    return exported_namespace(namespace), name


def dataset_key(key: str | None, uid: str, suffix: str | None) -> str:
    """Where in its storage an artifact is named: its key, or the managed path of an artifact without one."""
    from ..storage.managed import managed_key

    return key if key else managed_key(uid, suffix)


def dataset_id(storage_root: str, key: str | None, uid: str, suffix: str | None) -> tuple[str, str]:
    """The OpenLineage (namespace, name) of an artifact: what it is exported as, and what re-ingest maps back."""
    return dataset_from_uri(f"{storage_root.rstrip('/')}/{dataset_key(key, uid, suffix)}")


def reference_of(uid: str, reference: str | None, reference_type: str | None) -> tuple[str, str]:
    """(reference, reference type) under which a run is exported."""
    if reference and reference_type:
        return reference, reference_type
    return uid, "lamin"  # a run lamin-core created itself without a reference: its uid is its id


def run_id(uid: str, reference: str | None, reference_type: str | None) -> str:
    """The OpenLineage runId a run has in exported events (a UUID)."""
    return openlineage_run_id(*reference_of(uid, reference, reference_type))
