"""The registries. Importing this module imports SQLAlchemy's ORM: `lamin_core` does it lazily."""

from .artifact import Artifact
from .base import ARCHIVE_BRANCH_ID, MAIN_BRANCH_ID, TRASH_BRANCH_ID, Base, Record
from .collection import Collection
from .core import Branch, Storage, User
from .lineage_event import LineageEventRecord
from .run import Run
from .transform import Transform

REGISTRIES = (User, Branch, Storage, Transform, Run, Artifact, Collection)

__all__ = [
    "ARCHIVE_BRANCH_ID", "MAIN_BRANCH_ID", "TRASH_BRANCH_ID", "Artifact", "Base", "Branch", "Collection",
    "LineageEventRecord", "Record", "REGISTRIES", "Run", "Storage", "Transform", "User",
]
