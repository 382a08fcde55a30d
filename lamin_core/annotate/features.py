"""Features: creating, saving and deleting them, and `artifact.features` (add, remove, get values).

(In progress: the value manager is being written.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..db import engine as db
from ..errors import ValidationError
from .dtypes import serialize


def init_feature(feature: Any, name: str | None = None, dtype: Any = None, **fields: Any) -> None:
    from ..models import SQLRecord

    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"a Feature needs a name, not {name!r}")
    if fields.get("is_type"):
        if dtype is not None:
            raise ValidationError("a feature type (is_type=True) has no dtype")
        text = None
    else:
        if dtype is None:
            raise ValidationError(f"Feature {name!r} needs a dtype: float, int, 'num', str, bool, 'date', ln.ULabel, list[...]")
        text = serialize(dtype)
    type_ = fields.get("type")
    if type_ is not None and not getattr(type_, "is_type", False):
        raise ValidationError(f"type= takes a Feature made with is_type=True; {type_.name!r} is not a type")
    if feature.id is not None:  # a saved feature of that name
        if feature.dtype != text:
            raise ValidationError(
                f"a feature named {name!r} exists with dtype {feature.dtype!r}, not {text!r}: pick another name,"
                f" or delete the old feature first (ln.Feature.get(name={name!r}).delete())"
            )
        for key, value in fields.items():
            setattr(feature, key, value)
        return
    SQLRecord.__init__(feature, name=name, dtype=text, **fields)


def save_feature(feature: Any) -> Any:
    from ..tracking.context import current_run_id

    with db.write() as s:
        if feature.id is None and feature.run_id is None:
            feature.run_id = current_run_id()
        s.add(feature)
    return feature


def delete_feature(feature: Any, permanent: bool | None = None) -> None:
    raise NotImplementedError("being written")


class FeatureManager:
    def __init__(self, owner: Any) -> None:
        self.owner = owner
