"""lamin-core: data lineage for the pipelines you already run.

    import lamin_core as ln

Everything here is loaded on first use (PEP 562 module `__getattr__`), so `import lamin_core` stays
light: SQLAlchemy, pandas and fsspec are imported only when a registry or a file is touched.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# public name -> (module, attribute); attribute None means the module itself
_LAZY: dict[str, tuple[str, str | None]] = {
    "Artifact": ("lamin_core.models", "Artifact"),
    "Transform": ("lamin_core.models", "Transform"),
    "Run": ("lamin_core.models", "Run"),
    "User": ("lamin_core.models", "User"),
    "Storage": ("lamin_core.models", "Storage"),
    "Branch": ("lamin_core.models", "Branch"),
    "Collection": ("lamin_core.models", "Collection"),
    "ULabel": ("lamin_core.models", "ULabel"),
    "Record": ("lamin_core.models", "Record"),
    "Feature": ("lamin_core.models", "Feature"),
    "Schema": ("lamin_core.models", "Schema"),
    "QuerySet": ("lamin_core.query.queryset", "QuerySet"),
    "UPath": ("lamin_core.storage.upath", "UPath"),
    "save": ("lamin_core.api", "save"),
    "connect": ("lamin_core.setup", "connect"),
    "view": ("lamin_core.api", "view"),
    "track": ("lamin_core.tracking.track", "track"),
    "finish": ("lamin_core.tracking.track", "finish"),
    "flow": ("lamin_core.tracking.functions", "flow"),
    "step": ("lamin_core.tracking.functions", "step"),
    "context": ("lamin_core.tracking.context", None),
    "settings": ("lamin_core.api", "settings"),
    "setup": ("lamin_core.setup", None),
    "errors": ("lamin_core.errors", None),
    "examples": ("lamin_core.examples", None),
    "curators": ("lamin_core.curators", None),
    "bionty": ("lamin_core.bionty", None),
    "lineage": ("lamin_core.lineage", None),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'lamin_core' has no attribute {name!r}") from None
    module = import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
