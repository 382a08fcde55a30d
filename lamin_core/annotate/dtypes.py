"""Feature dtypes as LaminDB spells them, parsed once.

    int, float, num, str, bool, date, datetime, dict             scalar values
    cat[ULabel], cat[Record], cat[bionty.CellType]               labels of a registry, by their name
    cat[bionty.ExperimentalFactor.ontology_id]                   labels of a registry, by that field
    list[<any of the above>]                                     several values

`Feature(dtype=...)` takes Python types (`float`, `list[str]`), registries (`ln.ULabel`, `bt.CellType`),
registry fields (`bt.ExperimentalFactor.ontology_id`) or these strings.
"""

from __future__ import annotations

import datetime as dt
import typing
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..errors import ValidationError

SCALARS = ("int", "float", "num", "str", "bool", "date", "datetime", "dict")
_PYTHON = {int: "int", float: "float", str: "str", bool: "bool", dict: "dict", dt.date: "date", dt.datetime: "datetime"}


@dataclass(frozen=True)
class DType:
    kind: str  # one of SCALARS, or "cat"
    is_list: bool = False
    registry: str | None = None  # "ULabel", "Record", "bionty.CellType"
    field: str | None = None  # the label field values name; None: the registry's name field

    @property
    def is_cat(self) -> bool:
        return self.kind == "cat"

    def __str__(self) -> str:
        inner = self.kind
        if self.is_cat:
            inner = f"cat[{self.registry}{'.' + self.field if self.field else ''}]"
        return f"list[{inner}]" if self.is_list else inner


def serialize(dtype: Any) -> str:
    """The stored spelling of any accepted dtype; raises naming what it could not read."""
    return str(_to_dtype(dtype))


def _to_dtype(dtype: Any) -> DType:
    if isinstance(dtype, DType):
        return dtype
    if isinstance(dtype, str):
        return parse(dtype)
    if isinstance(dtype, type) and dtype in _PYTHON:
        return DType(_PYTHON[dtype])
    if typing.get_origin(dtype) is list:
        (arg,) = typing.get_args(dtype) or (str,)
        inner = _to_dtype(arg)
        if inner.is_list:
            raise ValidationError(f"a list of lists is not a feature dtype: {dtype!r}")
        return DType(inner.kind, True, inner.registry, inner.field)
    if isinstance(dtype, type) and hasattr(dtype, "__tablename__"):
        return DType("cat", registry=registry_name(dtype))
    owner, key = getattr(dtype, "class_", None), getattr(dtype, "key", None)
    if owner is not None and key is not None and hasattr(owner, "__tablename__"):  # bt.Gene.symbol
        return DType("cat", registry=registry_name(owner), field=key)
    raise ValidationError(
        f"unknown feature dtype {dtype!r}: use one of {', '.join(SCALARS)}, a registry (ln.ULabel), "
        "a registry field (bt.ExperimentalFactor.ontology_id) or list[...] of these"
    )


@lru_cache(maxsize=512)
def parse(text: str) -> DType:
    s = text.strip()
    if s.startswith("list[") and s.endswith("]"):
        inner = parse(s[5:-1])
        if inner.is_list:
            raise ValidationError(f"a list of lists is not a feature dtype: {text!r}")
        return DType(inner.kind, True, inner.registry, inner.field)
    if s in SCALARS:
        return DType(s)
    if s == "cat":
        return DType("cat", registry="ULabel")
    if s.startswith("cat[") and s.endswith("]"):
        ref = s[4:-1]
        module, _, rest = ref.partition(".") if ref.startswith("bionty.") else ("", "", ref)
        name, _, field = rest.partition(".")
        registry = f"{module}.{name}" if module else name
        resolve_registry(registry)  # fails now for a registry that does not exist
        return DType("cat", registry=registry, field=field or None)
    raise ValidationError(f"unknown feature dtype {text!r}: use one of {', '.join(SCALARS)}, cat[Registry] or list[...]")


def registry_name(model: type) -> str:
    module = model.__module__
    return f"bionty.{model.__name__}" if ".bionty" in module or module.startswith("bionty") else model.__name__


def resolve_registry(name: str) -> type:
    """`ULabel` -> ln.ULabel, `bionty.CellType` -> bt.CellType (imported only then)."""
    if name.startswith("bionty."):
        try:
            from .. import bionty  # type: ignore[attr-defined]
        except ImportError as e:
            raise ValidationError(f"the dtype names {name}, but the biological registries are not available: {e}") from None
        model = getattr(bionty, name.split(".", 1)[1], None)
    else:
        from .. import models

        model = getattr(models, name, None)
    if model is None or not hasattr(model, "__tablename__"):
        raise ValidationError(f"no registry named {name!r}")
    return model


def label_field(dtype: DType) -> str:
    """The field of the registry that values of this dtype name (`name` unless the dtype says)."""
    if dtype.field:
        return dtype.field
    return getattr(resolve_registry(dtype.registry or "ULabel"), "_name_field", "name")
