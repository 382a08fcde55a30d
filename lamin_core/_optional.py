"""Optional packages (anndata, s3fs, gcsfs, ...): imported where they are used, and when one is missing
the error is the line that installs it, not a bare `ModuleNotFoundError` from deep inside a call.

    ad = require("anndata", extra="anndata")   # -> pip install 'lamin-core[anndata]'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import LaminError


class MissingDependencyError(LaminError, ImportError):
    """An optional package a call needs is not installed; the message is the pip line that installs it.

    It is an `ImportError` too, so code that already falls back on `except ImportError` keeps working.
    """


def install_line(package: str, extra: str | None = None) -> str:
    return f"pip install 'lamin-core[{extra}]'" if extra else f"pip install {package}"


def require(module: str, *, extra: str | None = None, package: str | None = None, needed_for: str | None = None) -> ModuleType:
    """Import `module`, or raise MissingDependencyError naming the install line.

    `extra` is lamin-core's extra that pulls the package in; `package` is its name on PyPI when it differs
    from the module's (and there is no extra); `needed_for` says what the user was doing.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".", 1)[0]
        # only a missing `module` itself is ours to explain; a broken install of it re-raises as is
        if getattr(e, "name", None) not in (None, module, top):
            raise
        what = f" for {needed_for}" if needed_for else ""
        raise MissingDependencyError(
            f"{top} is not installed{what}: {install_line(package or top, extra)}"
        ) from None


# the fsspec protocols whose file systems live in separate packages: protocol -> (module, extra or None)
FILESYSTEM_PACKAGES: dict[str, tuple[str, str | None]] = {
    "s3": ("s3fs", "s3"),
    "gs": ("gcsfs", None),
    "gcs": ("gcsfs", None),
    "hf": ("huggingface_hub", None),
    "az": ("adlfs", None),
    "abfs": ("adlfs", None),
}


def require_filesystem(protocol: str) -> None:
    """Before fsspec builds a file system: its package is there, or the error says how to install it."""
    entry = FILESYSTEM_PACKAGES.get(protocol)
    if entry is not None:
        module, extra = entry
        require(module, extra=extra, needed_for=f"{protocol}:// paths")
