"""Instance set-up: `ln.setup.init(...)`, `ln.connect(...)`, `ln.setup.delete(...)`, `ln.setup.info()`."""

from .instance import connect, delete, info, init

__all__ = ["connect", "delete", "info", "init"]
