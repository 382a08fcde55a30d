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

from .moved import remember, remember_refusal

if TYPE_CHECKING:
    from lamin_core.lineage.events import Dataset


def use_instance(name: str) -> None:
    """Work on instance `name` in this process only; the user's connected instance stays as it is."""
    os.environ["LAMIN_INSTANCE"] = name  # read by lamin-core when it first connects
    from lamin_core.db import engine as db
    from lamin_core.setup.settings import InstanceSettings

    db.configure(InstanceSettings.load(name))


COLLECTION_PREFIX = "collection/"  # lamin://collection/KEY: the latest version of the collection at KEY (inputs only)


def latest(key: str) -> Any:
    """The latest version of the artifact at `key`, or None. Newest first when several storages hold it."""
    import lamin_core as ln

    if key.startswith(COLLECTION_PREFIX):
        return ln.Collection.filter(key=key[len(COLLECTION_PREFIX) :], is_latest=True).order_by("-created_at").first()
    return ln.Artifact.filter(key=key, is_latest=True).order_by("-created_at").first()


def retrieve_collection(query: str, collection: Any, local_path: Path) -> None:
    """A folder with the collection's members, in order (`000_<name>`, ...): what the job reads.

    Remembered as the members' datasets, each naming the collection: the job's run gets the members as input
    artifacts and the collection as its input collection (lamin_core/collections/lineage.py).
    """
    from lamin_core.collections.lineage import collection_datasets

    if local_path.exists():
        shutil.rmtree(local_path) if local_path.is_dir() else local_path.unlink()
    local_path.mkdir(parents=True)
    for i, artifact in enumerate(collection.ordered_artifacts):
        source = Path(artifact.cache())
        dest = local_path / f"{i:03d}_{(artifact.key or artifact.uid + artifact.suffix).rsplit('/', 1)[-1]}"
        shutil.copytree(source, dest) if source.is_dir() else _link_or_copy(source, dest)
    remember(query, "input", collection_datasets(collection))


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
    if key.startswith(COLLECTION_PREFIX):
        retrieve_collection(query, artifact, local_path)
        return
    source = Path(artifact.cache())
    local_path.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        if local_path.exists():
            shutil.rmtree(local_path)
        shutil.copytree(source, local_path)
    else:
        shutil.copyfile(source, local_path)
    remember(query, "input", dataset_of(artifact))


def store(query: str, key: str, local_path: Path, schema: str | None = None) -> Any:
    """Save the job's output as the artifact at `key`: a new version when the content changed.

    With `schema` (a saved `ln.Schema`'s name), the output is read as a table and validated first: a
    ValidationError fails the job and nothing is saved; a valid one is annotated as
    `ln.Artifact.from_dataframe(schema=)` annotates (in the save's transaction).

    The file is staged outside the working directory first: the logger registers the working
    directory as a storage location, and a file inside one is registered in place under its path,
    not copied in under `key`; Snakemake deletes its local copy after the upload.
    """
    import lamin_core as ln

    if key.startswith(COLLECTION_PREFIX):
        raise ValueError(f"lamin://{key} names a collection, which a job can read but not write: write artifacts, then ln.Collection([...], key=...)")
    if not local_path.exists():
        raise FileNotFoundError(f"the job did not write {local_path}")
    validation = None
    if schema:
        from lamin_core.errors import ValidationError

        try:
            validation = validate_output(key, local_path, schema)
        except ValidationError as e:
            remember_refusal(query, str(e))  # the logger fails the job's run with it
            raise
    staged_dir = Path(tempfile.mkdtemp(prefix="lamin-snakemake-"))
    try:
        staged = staged_dir / local_path.name
        _link_or_copy(local_path, staged)
        artifact = ln.Artifact(staged, key=key)
        if validation is not None:  # save() writes what validation found, in the artifact's transaction
            artifact.schema_id = validation.schema.id
            artifact._validation = validation
        artifact = artifact.save()
    finally:
        shutil.rmtree(staged_dir, ignore_errors=True)
    # content that is already registered comes back as that artifact (lamin-core dedupes by hash)
    artifact = _touch(artifact)
    remember(query, "output", dataset_of(artifact))
    return artifact


def validate_output(key: str, local_path: Path, schema_name: str) -> Any:
    """The output read as a DataFrame (parquet, csv, tsv) and validated against the schema named; raises
    lamin-core's ValidationError naming the file, the schema and what is wrong."""
    import lamin_core as ln
    from lamin_core.annotate.validate import validate_dataframe
    from lamin_core.errors import ValidationError

    schema = ln.Schema.filter(name=schema_name).first()
    if schema is None:
        raise ValidationError(f"lamin://{key}: no ln.Schema named {schema_name!r}; save it first (ln.Schema(name={schema_name!r}, features=[...]).save())")
    df = read_table(local_path)
    try:
        return validate_dataframe(df, schema)
    except ValidationError as e:
        raise ValidationError(f"lamin://{key} does not validate against schema {schema_name!r}, not saved: {e}") from None


def read_table(path: Path) -> Any:
    import pandas as pd

    from lamin_core.errors import ValidationError

    suffix = "".join(path.suffixes[-2:]).lower()
    if suffix.endswith(".parquet"):
        return pd.read_parquet(path)
    if suffix.endswith((".tsv", ".tsv.gz", ".tab")):
        return pd.read_csv(path, sep="\t")
    if suffix.endswith((".csv", ".csv.gz")):
        return pd.read_csv(path)
    raise ValidationError(f"{path.name}: only .parquet, .csv and .tsv outputs can be validated against a schema")


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


def dataset_of_latest(key: str) -> "Dataset | list[Dataset] | None":
    """For the logger when this process never moved `key` (a local copy was already up to date)."""
    artifact = latest(key)
    if artifact is not None and key.startswith(COLLECTION_PREFIX):
        from lamin_core.collections.lineage import collection_datasets

        return collection_datasets(artifact)
    return dataset_of(artifact) if artifact is not None else None

