"""OpenLineage facets annotate the artifacts they describe: `schema` -> feature set, `tags` -> labels,
`dataQualityMetrics` / `outputStatistics` -> feature values (openlineage-python events, both backends)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import lamin_core as ln
import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated import (
    data_quality_metrics_input_dataset as dq,
    output_statistics_output_dataset as stats,
    schema_dataset,
    tags_dataset,
)
from openlineage.client.uuid import generate_new_uuid

T0 = datetime(2026, 2, 1, tzinfo=timezone.utc)


def _emit_spark_job(rows_out: int) -> str:
    import lamin_openlineage  # noqa: F401  (registers `type: lamin`)

    client = OpenLineageClient(config={"transport": {"type": "lamin"}})
    run_id = str(generate_new_uuid())
    job = Job(namespace="spark", name="daily_cells")
    source = InputDataset(
        namespace="postgres://db:5432", name="lab.public.raw_cells",
        inputFacets={"dataQualityMetrics": dq.DataQualityMetricsInputDatasetFacet(
            rowCount=120, bytes=4096, columnMetrics={"donor": dq.ColumnMetrics(nullCount=3)})},
    )
    fields = [schema_dataset.SchemaDatasetFacetFields(name="cell_count", type="BIGINT"),
              schema_dataset.SchemaDatasetFacetFields(name="donor", type="VARCHAR")]
    tags = tags_dataset.TagsDatasetFacet(tags=[tags_dataset.TagsDatasetFacetFields(key="environment", value="production"),
                                               tags_dataset.TagsDatasetFacetFields(key="pii", value="true", field="donor")])
    target = OutputDataset(
        namespace="postgres://db:5432", name="lab.public.cells",
        facets={"schema": schema_dataset.SchemaDatasetFacet(fields=fields), "tags": tags},
        outputFacets={"outputStatistics": stats.OutputStatisticsOutputDatasetFacet(rowCount=rows_out, size=1 << 20)},
    )
    client.emit(RunEvent(eventType=RunState.START, eventTime=T0.isoformat(), run=Run(runId=run_id), job=job, inputs=[source]))
    client.emit(RunEvent(eventType=RunState.COMPLETE, eventTime=(T0 + timedelta(minutes=1)).isoformat(), run=Run(runId=run_id),
                         job=job, inputs=[source], outputs=[target]))
    return run_id


def test_existing_features_get_metrics_tags_and_the_schema_becomes_a_feature_set(instance: Any) -> None:
    ln.Feature(name="row_count", dtype=int).save()
    ln.Feature(name="cell_count", dtype=int).save()
    ln.Feature(name="environment", dtype=ln.ULabel).save()
    ln.ULabel(name="production").save()
    run_id = _emit_spark_job(rows_out=5000)

    out = ln.Artifact.filter(row_count__gt=1000).one()
    assert out.key == "lab.public.cells" and out.run.reference == run_id
    assert ln.Artifact.filter(environment="production").one() == out
    assert [f.name for f in out.feature_sets.first().members] == ["cell_count"]  # the columns that are features
    raw = ln.Artifact.get(key="lab.public.raw_cells")
    assert raw.features.get_values() == {"row_count": 120}  # an input's own metrics annotate it
    assert not ln.Feature.filter(name__in=["bytes", "null_counts", "donor", "pii"]).exists()


def test_auto_creates_typed_features_and_labels_under_the_openlineage_type(instance: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMIN_OPENLINEAGE_ANNOTATE", "auto")
    _emit_spark_job(rows_out=7)
    made = {f.name: f.dtype for f in ln.Feature.filter(type__name="openlineage")}
    assert made == {"row_count": "int", "bytes": "int", "null_counts": "dict", "cell_count": "int", "donor": "str",
                    "environment": "cat[ULabel]"}
    out = ln.Artifact.get(key="lab.public.cells")
    assert out.features.get_values()["environment"] == "production" and ln.ULabel.filter(name="production").exists()
    assert ln.Artifact.get(key="lab.public.raw_cells").features.get_values()["null_counts"] == {"donor": 3}
    assert ln.Artifact.filter(row_count__lt=10, bytes__gte=1 << 20).one() == out
