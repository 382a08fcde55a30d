"""The registries. Importing this module imports SQLAlchemy's ORM: `lamin_core` does it lazily."""

from .artifact import Artifact
from .base import ARCHIVE_BRANCH_ID, MAIN_BRANCH_ID, TRASH_BRANCH_ID, Base, SQLRecord
from .collection import Collection
from .core import Branch, Storage, User
from .feature import Feature
from .lineage_event import LineageEventRecord
from .outbox import OpenLineageForwarding, OpenLineageOutboxEvent  # not a registry: the live-forwarding outbox
from .record import Record
from .run import Run
from .schema import Schema
from .transform import Transform
from .ulabel import ULabel
from . import annotations  # noqa: E402  (declares the link and value tables of the registries above)
from .bionty import BIONTY_REGISTRIES  # noqa: E402  (bt.CellType, bt.Gene, ...: tables in every instance)

REGISTRIES = (User, Branch, Storage, Transform, Run, Artifact, Collection, ULabel, Record, Feature, Schema, *BIONTY_REGISTRIES)

__all__ = [
    "ARCHIVE_BRANCH_ID", "MAIN_BRANCH_ID", "TRASH_BRANCH_ID", "Artifact", "Base", "Branch", "Collection", "Feature",
    "LineageEventRecord", "Record", "REGISTRIES", "Run", "Schema", "SQLRecord", "Storage", "Transform", "ULabel", "User",
]
