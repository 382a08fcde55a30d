"""Instance set-up: `ln.setup.init(...)`, `ln.connect(...)`, `ln.setup.delete(...)`, `ln.setup.info()`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import user as _user  # noqa: F401  (registers the hook that finds the user row on connecting)

if TYPE_CHECKING:
    from .instance import connect, delete, info, init

__all__ = ["connect", "delete", "info", "init"]


def __getattr__(name: str) -> Any:
    # a tracked script reads settings and the user from this package; instance management is not its business
    if name in __all__:
        from . import instance

        return getattr(instance, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
