"""Parameters as a run keeps them: JSON values, secrets redacted, big or opaque objects summarized.

A run's params are for reading and querying (`ln.Run.filter(params__n=3)`), not for pickling: a
DataFrame argument is kept as its type and shape, an Artifact as its uid, anything else unknown as a
short repr.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from .redact import redact

if TYPE_CHECKING:
    import inspect

MAX_STR = 1000
MAX_ITEMS = 100


def jsonable(value: Any, depth: int = 0) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_STR else value[:MAX_STR] + "…"
    if depth > 4:
        return _short_repr(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth + 1) for k, v in list(value.items())[:MAX_ITEMS]}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v, depth + 1) for v in list(items)[:MAX_ITEMS]]
    uid = getattr(value, "uid", None)
    if isinstance(uid, str) and hasattr(type(value), "__tablename__"):
        return f"{type(value).__name__}:{uid}"  # a record: its uid says which one
    if hasattr(value, "__fspath__"):
        return str(value.__fspath__())
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):  # DataFrame, ndarray, AnnData
        return {"type": type(value).__name__, "shape": list(shape)}
    return _short_repr(value)


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 200 else text[:199] + "…"


def clean_params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """JSON-safe and redacted; None for no params."""
    if not params:
        return None
    return redact(jsonable(dict(params)))


def bound_params(signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by parameter name, defaults filled in; `self`/`cls` left out."""
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return {}  # the call itself will raise the same TypeError, with Python's own message
    bound.apply_defaults()
    import inspect
    out: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        if name in ("self", "cls"):
            continue
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        else:
            out[name] = value
    return out


def annotation_values(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The params that can be feature values of the run (`lamin_core/lineage/annotations.py`): strings,
    numbers, bools, dates and lists of these; secret-looking names never. None when there are none."""
    import datetime as dt

    from .redact import is_secret_name

    if not params:
        return None
    out: dict[str, Any] = {}
    for name, value in params.items():
        if is_secret_name(str(name)):
            continue
        if isinstance(value, (str, bool, int, float, dt.date)):
            out[str(name)] = value
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, (str, bool, int, float)) for v in value):
            out[str(name)] = list(value)
    return out or None
