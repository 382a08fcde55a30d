"""A Prefect task that takes an `ln.Collection` argument: the collection is its run's input (and the flow's),
its members are the input artifacts it reads, on both backends; the parameter is saved as the collection's uid."""

from __future__ import annotations

import pandas as pd
import pytest

import lamin_core as ln
from lamin_prefect import flow, task

pytestmark = pytest.mark.slow


@task
def count_rows(collection: ln.Collection) -> int:
    return len(collection.ordered_artifacts.all())


@flow(name="collection-flow")
def summarize(collection: ln.Collection) -> int:
    return count_rows(collection)


def test_a_collection_argument_is_the_runs_input(instance, prefect_server) -> None:  # noqa: ANN001
    a = ln.Artifact.from_dataframe(pd.DataFrame({"x": [1]}), key="c/a.parquet").save()
    b = ln.Artifact.from_dataframe(pd.DataFrame({"x": [2]}), key="c/b.parquet").save()
    collection = ln.Collection([a, b], key="my-collection").save()
    assert summarize(collection) == 2
    (task_run,) = ln.Run.filter(reference_type="prefect_task_run").all()
    (flow_run,) = ln.Run.filter(reference_type="prefect_flow_run").all()
    for run in (task_run, flow_run):
        assert [c.uid for c in run.input_collections] == [collection.uid]
        assert {x.uid for x in run.input_artifacts} == {a.uid, b.uid}
    assert task_run.params["collection"] == {"collection": collection.uid, "key": "my-collection"}
    assert {r.id for r in ln.Collection.get(collection.id).input_of_runs} == {task_run.id, flow_run.id}
