"""Instance set-up: `ln.setup.init(...)`, `ln.connect(...)`, `ln.setup.delete(...)`, `ln.setup.info()`."""

from . import user as _user  # noqa: F401  (registers the hook that finds the user row on connecting)
from .instance import connect, delete, info, init

__all__ = ["connect", "delete", "info", "init"]
