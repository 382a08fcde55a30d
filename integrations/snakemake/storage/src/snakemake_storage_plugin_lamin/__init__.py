"""Snakemake storage plugin `lamin`: `storage.lamin("lamin://KEY")` reads and writes artifacts by key.

In a Snakefile::

    storage lamin:
        provider="lamin"

    rule clean:
        input: storage.lamin("lamin://raw/{sample}.csv")
        output: storage.lamin("lamin://clean/{sample}.csv")

An input is the latest version of the artifact at KEY, cached locally (`lamin://collection/KEY`: a folder
with the members of the latest collection at KEY, recorded as the job's input collection); an output is saved as the artifact
at KEY (a new version when its content changed). An output can be validated against a saved `ln.Schema`
before it is saved, with `lamin://KEY?schema=NAME`, or for every output of a named storage with
`storage validated: provider="lamin", schema="NAME"`: data that does not validate fails the job that wrote
it (the validation message is in Snakemake's log and the job run's report) and no artifact is saved. Existence and modification time come from the registry
(the artifact's `updated_at`), so Snakemake's rerun logic works on keys as it does on files.

Snakemake imports every installed plugin module each time it starts: this module imports only the plugin
interface, lamin-core loads on first use. No `from __future__ import annotations` (Snakemake reads the
settings' annotations as real types).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

from snakemake_interface_storage_plugins.io import IOCacheStorageInterface, Mtime, get_constant_prefix
from snakemake_interface_storage_plugins.settings import StorageProviderSettingsBase
from snakemake_interface_storage_plugins.storage_object import (
    StorageObjectGlob,
    StorageObjectRead,
    StorageObjectWrite,
)
from snakemake_interface_storage_plugins.storage_provider import (
    ExampleQuery,
    Operation,
    QueryType,
    StorageProviderBase,
    StorageQueryValidationResult,
)

from .keys import SCHEME, query_problem, split_query
from .moved import dataset_for, refusal_for

__all__ = ["StorageObject", "StorageProvider", "StorageProviderSettings", "dataset_for", "refusal_for"]


@dataclass
class StorageProviderSettings(StorageProviderSettingsBase):
    """`--storage-lamin-<field>` options, or `storage lamin: provider="lamin", <field>=...` in a Snakefile.

    `Optional[str]`, not `str | None`: Snakemake turns these annotations into argparse types.
    """

    instance: Optional[str] = field(
        default=None,
        metadata={
            "help": "lamin-core instance that holds the artifacts (default: the connected one).",
            "env_var": True,
        },
    )
    schema: Optional[str] = field(
        default=None,
        metadata={
            "help": "Name of a saved ln.Schema that every output of this storage must validate against "
            "before it is saved (per file: lamin://KEY?schema=NAME).",
        },
    )


class StorageProvider(StorageProviderBase):
    """One per `storage lamin:` directive; holds the connection settings."""

    def __post_init__(self) -> None:
        self._connected = False

    def connect(self) -> None:
        """Switch this process to the configured instance once, on the first object that needs it."""
        if self._connected:
            return
        instance = getattr(self.settings, "instance", None)
        if instance:
            from .artifacts import use_instance

            use_instance(instance)
        self._connected = True

    @classmethod
    def example_queries(cls) -> list[ExampleQuery]:
        return [
            ExampleQuery(
                query="lamin://raw/sample1.csv",
                type=QueryType.ANY,
                description="The artifact with key raw/sample1.csv (its latest version when read).",
            )
        ]

    def rate_limiter_key(self, query: str, operation: Operation) -> Any:
        return "lamin"

    def default_max_requests_per_second(self) -> float:
        return 100.0

    def use_rate_limiter(self) -> bool:
        return False  # the registry is a database, not a rate-limited web API

    @classmethod
    def is_valid_query(cls, query: str) -> StorageQueryValidationResult:
        if not query.startswith(SCHEME):
            return StorageQueryValidationResult(query=query, valid=False, reason=f"must start with {SCHEME}")
        problem = query_problem(query)
        if problem:
            return StorageQueryValidationResult(query=query, valid=False, reason=problem)
        return StorageQueryValidationResult(query=query, valid=True)


class StorageObject(StorageObjectRead, StorageObjectWrite, StorageObjectGlob):
    """The artifact at one key."""

    def __post_init__(self) -> None:
        self.key, options = split_query(self.query)
        # the query's own schema wins over the storage's
        self.schema = options.get("schema") or getattr(self.provider.settings, "schema", None)

    def _artifacts(self) -> Any:
        self.provider.connect()
        from . import artifacts

        return artifacts

    async def inventory(self, cache: IOCacheStorageInterface) -> None:
        """Existence, mtime and size in one registry lookup, so Snakemake does not ask three times."""
        key = self.cache_key()
        if key in cache.exists_in_storage:
            return
        artifact = self._artifacts().latest(self.key)
        cache.exists_in_storage[key] = artifact is not None
        if artifact is not None:
            cache.mtime[key] = Mtime(storage=self._artifacts().mtime_of(artifact))
            cache.size[key] = int(getattr(artifact, "size", None) or 0)  # a collection has none

    def get_inventory_parent(self) -> str | None:
        return None

    def local_suffix(self) -> str:
        return self.key

    def cleanup(self) -> None:
        pass

    def exists(self) -> bool:
        return self._artifacts().latest(self.key) is not None

    def mtime(self) -> float:
        artifacts = self._artifacts()
        return artifacts.mtime_of(artifacts.require_latest(self.key))

    def size(self) -> int:
        return int(getattr(self._artifacts().require_latest(self.key), "size", None) or 0)

    def retrieve_object(self) -> None:
        self._artifacts().retrieve(self.query, self.key, self.local_path())

    def store_object(self) -> None:
        self._artifacts().store(self.query, self.key, self.local_path(), schema=self.schema)

    def remove(self) -> None:
        # Snakemake removes outputs before it reruns their job. The artifact's versions are the record
        # of what ran, so nothing is deleted: the job's new output becomes the next version.
        pass

    def list_candidate_matches(self) -> Iterable[str]:
        """Keys under the query's constant prefix, for `glob_wildcards()`."""
        prefix = get_constant_prefix(SCHEME + self.key)[len(SCHEME) :]
        return [SCHEME + key for key in self._artifacts().keys_with_prefix(prefix)]
