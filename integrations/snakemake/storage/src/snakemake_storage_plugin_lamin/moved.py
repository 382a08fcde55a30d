"""Which artifact version each `lamin://` query was read as or written to, in this process.

The logger plugin (same process) asks here when it builds a job's lineage event, so the job's run is
linked to exactly the version the job read or wrote, even if another process saved a newer one since.
Snakemake retrieves inputs before it logs the job and stores outputs before it logs the job's end, so
the entry is always there by the time the logger looks.
"""

import threading
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from lamin_core.lineage.events import Dataset

_lock = threading.Lock()  # written from Snakemake's main thread, read from its logging thread
_moved: dict[tuple[str, str], "Dataset"] = {}
_refused: dict[str, str] = {}  # query -> why its output was not saved (a schema it did not validate against)


def remember(query: str, role: Literal["input", "output"], dataset: "Dataset") -> None:
    with _lock:
        _moved[(query, role)] = dataset


def dataset_for(query: str, role: Literal["input", "output"]) -> "Dataset | None":
    """The dataset of the version `query` was last retrieved as (input) or stored as (output)."""
    with _lock:
        return _moved.get((query, role))


def remember_refusal(query: str, message: str) -> None:
    """An output that was not saved, and why: Snakemake logs no `job_error` when storing fails, so the
    logger asks here to fail that job's run with this message instead of aborting it."""
    with _lock:
        _refused[query] = message


def refusal_for(query: str) -> str | None:
    with _lock:
        return _refused.get(query)
