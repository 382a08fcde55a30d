"""OpenLineage dataset facets as annotations of the artifacts they describe (read by `openlineage_json`).

| facet                                             | becomes                                                |
|---------------------------------------------------|--------------------------------------------------------|
| `schema` (fields: name, type)                     | `Dataset.columns`: the artifact's "columns" feature set |
| `tags` (tags: key, value)                         | `Dataset.labels`: {key: [value]}, label-typed values    |
| `dataQualityMetrics` (rowCount, bytes, columnMetrics.<col>.nullCount), `outputStatistics` (rowCount, size) | `Dataset.annotations`: `row_count`, `bytes`, `null_counts` ({column: n}) |

so `ln.Artifact.filter(row_count__gt=1000)` works for a Spark or dbt table once a `row_count` feature exists
(or with `annotate="auto"`). The facets themselves are kept on the artifact as before; this only reads them.

The mode: the event's own `run.facets.lamin_run.annotate` (a producer that knows), else the environment
variable `LAMIN_OPENLINEAGE_ANNOTATE`, else "existing".
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from .events import ANNOTATE_MODES

ENGINE = "openlineage"
ENV = "LAMIN_OPENLINEAGE_ANNOTATE"
_METRIC_FACETS = ("dataQualityMetrics", "outputStatistics")


def annotate_mode(lamin_run: Mapping[str, Any]) -> str:
    mode = lamin_run.get("annotate") if isinstance(lamin_run.get("annotate"), str) else None
    mode = mode or os.environ.get(ENV) or "existing"
    return mode if mode in ANNOTATE_MODES else "existing"  # a bad value annotates as by default, never refuses the event


def dataset_annotations(facets: Mapping[str, Any]) -> tuple[dict[str, Any] | None, dict[str, list[str]] | None, list[tuple[str, str]] | None]:
    """(annotations, labels, columns) that a dataset's facets (with `inputFacets` / `outputFacets` inside) carry."""
    all_facets: dict[str, Any] = dict(facets)
    for nested in ("inputFacets", "outputFacets"):
        inner = facets.get(nested)
        if isinstance(inner, Mapping):
            all_facets.update(inner)
    return _metrics(all_facets), _tags(all_facets.get("tags")), _columns(all_facets.get("schema"))


def _metrics(facets: Mapping[str, Any]) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for name in _METRIC_FACETS:
        facet = facets.get(name)
        if not isinstance(facet, Mapping):
            continue
        if _count(facet.get("rowCount")) is not None:
            out["row_count"] = _count(facet.get("rowCount"))
        size = _count(facet.get("bytes", facet.get("size")))
        if size is not None:
            out["bytes"] = size
        columns = facet.get("columnMetrics")
        if isinstance(columns, Mapping):
            nulls = {str(c): _count(m.get("nullCount")) for c, m in columns.items() if isinstance(m, Mapping)}
            nulls = {c: n for c, n in nulls.items() if n is not None}
            if nulls:
                out["null_counts"] = nulls
    return out or None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _tags(facet: Any) -> dict[str, list[str]] | None:
    if not isinstance(facet, Mapping) or not isinstance(facet.get("tags"), list):
        return None
    out: dict[str, list[str]] = {}
    for tag in facet["tags"]:
        if not isinstance(tag, Mapping) or not isinstance(tag.get("key"), str) or not tag["key"].strip():
            continue
        if tag.get("field"):
            continue  # a column's tag (PII on `email`), not the dataset's
        value = tag.get("value")
        label = str(value).strip() if value not in (None, "") else tag["key"].strip()  # a bare tag: its key
        out.setdefault(tag["key"].strip(), []).append(label)
    return out or None


def _columns(facet: Any) -> list[tuple[str, str]] | None:
    if not isinstance(facet, Mapping) or not isinstance(facet.get("fields"), list):
        return None
    cols = [(f["name"], str(f.get("type") or "")) for f in facet["fields"] if isinstance(f, Mapping) and isinstance(f.get("name"), str)]
    return cols or None
