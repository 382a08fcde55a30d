"""What the storage plugin does with lamin-core: find, fetch and save artifacts by key.

Loaded on first use (never when Snakemake merely starts). Every function here runs in Snakemake's main
process: inputs are fetched before a job runs, outputs saved after it succeeded.
"""

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .moved import remember

if TYPE_CHECKING:
    from lamin_core.lineage.events import Dataset


def use_instance(name: str) -> None:
    """Work on instance `name` in this process only; the user's connected instance stays as it is."""
    os.environ["LAMIN_INSTANCE"] = name  # read by lamin-core when it first connects
    from lamin_core.db import engine as db
    from lamin_core.setup.settings import InstanceSettings

    db.configure(InstanceSettings.load(name))


def latest(key: str) -> Any:
    """The latest version of the artifact at `key`, or None. Newest first when several storages hold it."""
    import lamin_core as ln

    return ln.Artifact.filter(key=key, is_latest=True).order_by("-created_at").first()


def require_latest(key: str) -> Any:
    artifact = latest(key)
    if artifact is None:
        raise FileNotFoundError(f"no artifact with key {key!r} in the lamin instance")
    return artifact


def mtime_of(artifact: Any) -> float:
    """The artifact's modification time for Snakemake's rerun logic: when its record last changed."""
    stamp: datetime = artifact.updated_at or artifact.created_at
    if stamp.tzinfo is None:  # stored as UTC without a zone (SQLite)
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def keys_with_prefix(prefix: str) -> list[str]:
    import lamin_core as ln

    rows = ln.Artifact.filter(key__startswith=prefix, is_latest=True) if prefix else ln.Artifact.filter(is_latest=True)
    return sorted({a.key for a in rows if a.key})


def retrieve(query: str, key: str, local_path: Path) -> None:
    """Copy the latest version at `key` to where the job reads it (`.snakemake/storage/lamin/KEY`)."""
    artifact = require_latest(key)
    source = Path(artifact.cache())
    local_path.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        if local_path.exists():
            shutil.rmtree(local_path)
        shutil.copytree(source, local_path)
    else:
        shutil.copyfile(source, local_path)
    remember(query, "input", dataset_of(artifact))


def store(query: str, key: str, local_path: Path) -> Any:
    """Save the job's output as the artifact at `key`: a new version when the content changed.

    The file is staged outside the working directory first: the logger registers the working
    directory as a storage location, and a file inside one is registered in place under its path,
    not copied in under `key`; Snakemake deletes its local copy after the upload.
    """
    import lamin_core as ln

    if not local_path.exists():
        raise FileNotFoundError(f"the job did not write {local_path}")
    staged_dir = Path(tempfile.mkdtemp(prefix="lamin-snakemake-"))
    try:
        staged = staged_dir / local_path.name
        _link_or_copy(local_path, staged)
        artifact = ln.Artifact(staged, key=key).save()
    finally:
        shutil.rmtree(staged_dir, ignore_errors=True)
    # content that is already registered comes back as that artifact (lamin-core dedupes by hash)
    artifact = _touch(artifact)
    remember(query, "output", dataset_of(artifact))
    return artifact


def _touch(artifact: Any) -> Any:
    """Mark the artifact as just written, so its mtime is newer than the inputs of the job that wrote it.

    Without this, an output whose content did not change keeps its old time and Snakemake would rerun
    its job on every invocation.
    """
    artifact.updated_at = datetime.now(UTC).replace(tzinfo=None)
    return artifact.save()


def _link_or_copy(source: Path, dest: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, dest)
        return
    try:
        os.link(source, dest)  # instant on the same filesystem; the content is read once, by save()
    except OSError:
        shutil.copyfile(source, dest)


def dataset_of(artifact: Any) -> "Dataset":
    """The lineage dataset that stands for this artifact: its data's location and its known hash.

    The recording path finds the artifact by its hash, so the run is linked to exactly this version.
    """
    from lamin_core.lineage.events import Dataset
    from lamin_core.lineage.openlineage_json import dataset_from_uri

    uri = str(artifact.path)
    if "://" in uri:
        namespace, name = dataset_from_uri(uri)
    else:
        namespace, name = "file", uri
    return Dataset(
        namespace=namespace,
        name=name,
        hash=artifact.hash,
        hash_type=artifact.hash_type,
        size=artifact.size,
    )


def dataset_of_latest(key: str) -> "Dataset | None":
    """For the logger when this process never moved `key` (a local copy was already up to date)."""
    artifact = latest(key)
    return dataset_of(artifact) if artifact is not None else None

