"""Real Prefect flows, checked at the level of the LineageEvents lamin_prefect hands to the core.

These tests need no lamin instance: events are captured in a list (`events` fixture). The end-to-end
tests in test_prefect_lineage.py check what the core makes of them.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

import pytest

import lamin_prefect
from lamin_prefect import flow, task


def by_job(events: list) -> dict[str, list]:
    out: dict[str, list] = defaultdict(list)
    for e in events:
        out[e.job.name].append(e)
    return out


def types_of(events: list, run_id: str) -> list[tuple[str, int | None]]:
    return [(e.event_type, e.run.attempt) for e in events if e.run.run_id == run_id]


def outputs_of(events: list, run_id: str) -> set[str]:
    return {d.name for e in events if e.run.run_id == run_id for d in e.outputs}


def inputs_of(events: list, run_id: str) -> set[str]:
    return {d.name for e in events if e.run.run_id == run_id for d in e.inputs}


# ---- sequential tasks, params, files ----------------------------------------------------------------


@task
def write_text(path: str, text: str, api_key: str = "sk-live-123") -> str:
    Path(path).write_text(text)
    return path


@task
def count_words(path: str) -> int:
    with open(path) as f:
        return len(f.read().split())


@task
def summarize(n: int, folder: str) -> Path:
    out = Path(folder) / "summary.txt"
    with open(out, "w") as f:  # an output the task does not return nor take as an argument
        f.write(str(n))
    return n  # type: ignore[return-value]


@flow(name="word-count")
def word_count(folder: str, db_password: str = "hunter2") -> int:
    path = write_text(f"{folder}/text.txt", "a b c")
    n = count_words(path)
    summarize(n, folder)
    return n


def test_sequential_flow_records_runs_params_and_files(events: list, tmp_path: Path) -> None:
    assert word_count(str(tmp_path)) == 3  # Prefect's behaviour is unchanged
    jobs = by_job(events)
    assert set(jobs) == {"word-count", "word-count/write_text", "word-count/count_words", "word-count/summarize"}
    (flow_start, *_), flow_events = jobs["word-count"], jobs["word-count"]
    flow_run_id = flow_start.run.run_id
    assert [e.event_type for e in flow_events] == ["START", "COMPLETE"]
    assert flow_start.job.kind == "pipeline" and "def word_count" in flow_start.job.source_code
    assert flow_start.run.reference_type == "prefect_flow_run" and flow_start.run.parent is None
    assert flow_start.run.params == {"folder": str(tmp_path), "db_password": "***"}

    write_start = jobs["word-count/write_text"][0]
    assert write_start.job.kind == "function" and "def write_text" in write_start.job.source_code
    assert write_start.run.reference_type == "prefect_task_run"
    assert write_start.run.parent.run_id == flow_run_id and write_start.run.parent.reference_type == "prefect_flow_run"
    assert write_start.run.params == {"path": f"{tmp_path}/text.txt", "text": "a b c", "api_key": "***"}
    write_id, count_id = write_start.run.run_id, jobs["word-count/count_words"][0].run.run_id
    summarize_id = jobs["word-count/summarize"][0].run.run_id
    assert types_of(events, write_id) == [("START", 1), ("COMPLETE", 1)]
    assert outputs_of(events, write_id) == {f"{tmp_path}/text.txt"}
    assert inputs_of(events, count_id) == {f"{tmp_path}/text.txt"} and not outputs_of(events, count_id)
    assert outputs_of(events, summarize_id) == {f"{tmp_path}/summary.txt"}
    # the flow returned nothing file-like and opened nothing itself; Prefect's own files are never lineage
    assert not outputs_of(events, flow_run_id) and not inputs_of(events, flow_run_id)
    assert lamin_prefect._emit.open_runs() == []


# ---- thread pool: .submit() and .map() ---------------------------------------------------------------


@task
def shard(folder: str, i: int) -> str:
    path = Path(folder) / f"shard-{i}.txt"
    path.write_text(str(i) * 1000)
    return str(path)


@task
def merge(paths: list[str], out: str) -> str:
    with open(out, "w") as f:
        for p in paths:
            f.write(Path(p).read_text())
    return out


@flow
def fan_out(folder: str) -> str:
    futures = shard.map(folder, range(4))
    extra = shard.submit(folder, 9)
    return merge.submit([f.result() for f in futures] + [extra.result()], f"{folder}/merged.txt").result()


def test_submit_and_map_attribute_each_file_to_its_own_task_run(events: list, tmp_path: Path) -> None:
    fan_out(str(tmp_path))
    shard_runs = {e.run.run_id: e for e in events if e.job.name == "fan-out/shard" and e.event_type == "START"}
    assert len(shard_runs) == 5
    for run_id, start in shard_runs.items():
        assert outputs_of(events, run_id) == {f"{tmp_path}/shard-{start.run.params['i']}.txt"}
        assert types_of(events, run_id) == [("START", 1), ("COMPLETE", 1)]
    merge_id = next(e.run.run_id for e in events if e.job.name == "fan-out/merge")
    shards = {f"{tmp_path}/shard-{i}.txt" for i in (0, 1, 2, 3, 9)}
    assert inputs_of(events, merge_id) == shards
    assert outputs_of(events, merge_id) == {f"{tmp_path}/merged.txt"}
    # the flow returns the merged file, but its task produced it: the flow does not claim it
    flow_id = next(e.run.run_id for e in events if e.job.name == "fan-out")
    assert outputs_of(events, flow_id) == set()


# ---- async ---------------------------------------------------------------------------------------------


@task
async def async_write(path: str) -> str:
    await asyncio.sleep(0.01)
    with open(path, "w") as f:
        f.write("async")
    return path


@flow
async def async_flow(folder: str) -> list[str]:
    return list(await asyncio.gather(async_write(f"{folder}/a.txt"), async_write(f"{folder}/b.txt")))


def test_async_flow_and_tasks(events: list, tmp_path: Path) -> None:
    assert asyncio.run(async_flow(str(tmp_path))) == [f"{tmp_path}/a.txt", f"{tmp_path}/b.txt"]
    starts = [e for e in events if e.job.name == "async-flow/async_write" and e.event_type == "START"]
    assert len(starts) == 2
    assert {frozenset(outputs_of(events, s.run.run_id)) for s in starts} == {
        frozenset({f"{tmp_path}/a.txt"}),
        frozenset({f"{tmp_path}/b.txt"}),
    }


# ---- retries and failures -----------------------------------------------------------------------------

_attempts: dict[str, int] = defaultdict(int)


@task(retries=2)
def flaky(key: str) -> str:
    _attempts[key] += 1
    if _attempts[key] < 3:
        raise ConnectionError(f"attempt {_attempts[key]} lost the connection")
    return "ok"


@task
def broken() -> None:
    raise ValueError("bad input row 17")


@flow
def retrying(key: str) -> str:
    return flaky(key)


@flow
def failing() -> None:
    broken()


def test_retries_are_attempts_of_one_run(events: list) -> None:
    assert retrying("r1") == "ok"
    flaky_events = [e for e in events if e.job.name == "retrying/flaky"]
    assert len({e.run.run_id for e in flaky_events}) == 1  # one Run per task run
    assert [(e.event_type, e.run.attempt, e.run.error_message) for e in flaky_events] == [
        ("START", 1, None),
        ("FAIL", 1, "ConnectionError: attempt 1 lost the connection"),
        ("START", 2, None),
        ("FAIL", 2, "ConnectionError: attempt 2 lost the connection"),
        ("START", 3, None),
        ("COMPLETE", 3, None),
    ]


def test_failing_task_and_flow_are_errored_with_the_message(events: list) -> None:
    with pytest.raises(ValueError, match="bad input row 17"):
        failing()
    task_events = [e for e in events if e.job.name == "failing/broken"]
    assert [(e.event_type, e.run.error_message) for e in task_events] == [
        ("START", None),
        ("FAIL", "ValueError: bad input row 17"),
    ]
    flow_events = [e for e in events if e.job.name == "failing"]
    assert [e.event_type for e in flow_events] == ["START", "FAIL"]
    assert "bad input row 17" in flow_events[-1].run.error_message
    assert lamin_prefect._emit.open_runs() == []


# ---- subflows -----------------------------------------------------------------------------------------


@task
def double(x: int) -> int:
    return 2 * x


@flow
def inner(x: int) -> int:
    return double(x)


@flow
def outer(x: int) -> int:
    return inner(x) + inner(x + 1)


def test_subflow_run_is_a_child_of_the_parent_flow_run(events: list) -> None:
    assert outer(1) == 6
    outer_id = next(e.run.run_id for e in events if e.job.name == "outer")
    inner_starts = [e for e in events if e.job.name == "inner" and e.event_type == "START"]
    assert len(inner_starts) == 2
    for start in inner_starts:
        assert start.job.kind == "pipeline"
        assert start.run.parent.run_id == outer_id and start.run.parent.job.name == "outer"
    inner_ids = {s.run.run_id for s in inner_starts}
    doubles = [e for e in events if e.job.name == "inner/double" and e.event_type == "START"]
    assert {d.run.parent.run_id for d in doubles} == inner_ids


# ---- instrument() on objects made with plain Prefect ---------------------------------------------------


def test_instrument_existing_flow_and_its_tasks(events: list, tmp_path: Path) -> None:
    import prefect

    calls: list[str] = []

    @prefect.task(on_completion=[lambda t, r, s: calls.append("user hook")])
    def plain_task(path: str) -> str:
        Path(path).write_text("x")
        return path

    @prefect.flow
    def plain_flow(folder: str) -> str:
        return plain_task(f"{folder}/plain.txt")

    key_before = plain_task.task_key
    lamin_prefect.instrument(plain_task)
    assert lamin_prefect.instrument(plain_flow) is plain_flow
    lamin_prefect.instrument(plain_flow)  # twice is harmless
    assert plain_task.task_key == key_before  # Prefect's cache identity is unchanged
    assert plain_flow(str(tmp_path)) == f"{tmp_path}/plain.txt"
    assert calls == ["user hook"]  # the user's hooks still run, once
    names = [(e.job.name, e.event_type) for e in events]
    assert names == [
        ("plain-flow", "START"),
        ("plain-flow/plain_task", "START"),
        ("plain-flow/plain_task", "COMPLETE"),
        ("plain-flow", "COMPLETE"),
    ]
    with pytest.raises(TypeError, match="Prefect flow or task"):
        lamin_prefect.instrument(lambda: None)


# ---- caching ------------------------------------------------------------------------------------------


@task(cache_key_fn=lambda ctx, params: f"lamin-prefect-test-{params['path']}", persist_result=True)
def cached_write(path: str) -> str:
    Path(path).write_text("cached")
    return path


@flow
def cached_flow(path: str) -> str:
    return cached_write(path)


def test_cache_hit_is_a_completed_run_without_start(events: list, tmp_path: Path) -> None:
    path = str(tmp_path / "c.txt")
    cached_flow(path)
    cached_flow(path)  # second time Prefect returns the cached value without calling the function
    runs = [e for e in events if e.job.name == "cached-flow/cached_write"]
    first, second = sorted({e.run.run_id for e in runs}, key=[e.run.run_id for e in runs].index)
    assert types_of(events, first) == [("START", 1), ("COMPLETE", 1)]
    hit = [e for e in runs if e.run.run_id == second]
    assert [e.event_type for e in hit] == ["COMPLETE"]
    assert hit[0].run.facets["prefect"]["state_name"] == "Cached"
    assert outputs_of(events, second) == {path}  # the cached return value names the file
    # Prefect persisted the result under PREFECT_HOME: not a file the task wrote
    assert outputs_of(events, first) == {path}


# ---- pandas / parquet -----------------------------------------------------------------------------------


@task
def make_table(folder: str) -> int:
    import pandas as pd

    df = pd.DataFrame({"gene": ["CD4", "CD8A"], "count": [10, 20]})
    df.to_parquet(f"{folder}/counts.parquet")  # pandas opens the file through Python: seen
    return len(df)


@task
def total(folder: str) -> int:
    import pandas as pd

    return int(pd.read_parquet(f"{folder}/counts.parquet")["count"].sum())


@flow
def parquet_flow(folder: str) -> int:
    make_table(folder)
    return total(folder)


def test_parquet_written_and_read_through_pandas(events: list, tmp_path: Path) -> None:
    assert parquet_flow(str(tmp_path)) == 30
    make_id = next(e.run.run_id for e in events if e.job.name == "parquet-flow/make_table")
    total_id = next(e.run.run_id for e in events if e.job.name == "parquet-flow/total")
    assert outputs_of(events, make_id) == {f"{tmp_path}/counts.parquet"}
    assert inputs_of(events, total_id) == {f"{tmp_path}/counts.parquet"}
    assert not outputs_of(events, total_id)


# ---- assets ---------------------------------------------------------------------------------------------


def test_materialized_assets_are_outputs_and_asset_deps_inputs(events: list, tmp_path: Path) -> None:
    from prefect.assets import Asset, materialize

    raw = f"file://{tmp_path}/raw.csv"
    clean = Asset(key=f"file://{tmp_path}/clean.csv")
    report = "s3://reports-bucket/summary.json"

    @lamin_prefect.materialize(clean, asset_deps=[raw])
    def build_clean() -> str:
        (tmp_path / "clean.csv").write_text("a\n1\n")
        clean.add_metadata({"rows": 1})
        return "done"

    @materialize(report)  # plain Prefect: instrumented because the flow calls it
    def build_report(upstream: str) -> None:
        pass

    @flow
    def assets_flow() -> None:
        build_report.submit(build_clean.submit()).result()

    assets_flow()
    clean_events = [e for e in events if e.job.name == "assets-flow/build_clean"]
    report_events = [e for e in events if e.job.name == "assets-flow/build_report"]
    assert {(d.namespace, d.name) for e in clean_events for d in e.inputs} == {("file", f"{tmp_path}/raw.csv")}
    (out,) = [d for e in clean_events for d in e.outputs]
    assert (out.namespace, out.name) == ("file", f"{tmp_path}/clean.csv")
    assert out.facets["prefect_asset"]["metadata"] == {"rows": 1}
    # the upstream task's asset is an input of the downstream one, as Prefect infers it
    assert {(d.namespace, d.name) for e in report_events for d in e.inputs} == {("file", f"{tmp_path}/clean.csv")}
    assert {(d.namespace, d.name) for e in report_events for d in e.outputs} == {("s3://reports-bucket", "summary.json")}


# ---- crashes --------------------------------------------------------------------------------------------


class PowerCut(BaseException):
    """Not an Exception: Prefect treats it as a crash, as it does KeyboardInterrupt or SIGTERM."""


@task
def interrupted() -> None:
    raise PowerCut("lost power")


@flow
def crashing() -> None:
    interrupted()


def test_a_crash_leaves_no_run_started(events: list) -> None:
    with pytest.raises(PowerCut):
        crashing()
    final = {}
    for e in events:
        final[e.job.name] = (e.event_type, e.run.error_message)
    assert final == {"crashing": ("ABORT", "PowerCut: lost power"), "crashing/interrupted": ("ABORT", "PowerCut: lost power")}
    assert lamin_prefect._emit.open_runs() == []


_half_written: dict[str, int] = defaultdict(int)


@task(retries=1)
def write_or_die(path: str) -> str:
    _half_written[path] += 1
    Path(path).write_text("partial" if _half_written[path] == 1 else "complete")
    if _half_written[path] == 1:
        raise OSError("disk full")
    return path


@flow
def retried_writer(path: str) -> str:
    return write_or_die(path)


def test_a_file_half_written_by_a_failed_attempt_is_an_output_not_an_input(events: list, tmp_path: Path) -> None:
    path = str(tmp_path / "out.txt")
    retried_writer(path)
    run_id = next(e.run.run_id for e in events if e.job.name == "retried-writer/write_or_die")
    assert inputs_of(events, run_id) == set()
    assert outputs_of(events, run_id) == {path}
    assert types_of(events, run_id) == [("START", 1), ("FAIL", 1), ("START", 2), ("COMPLETE", 2)]


class Scaler:
    def __init__(self, factor: int) -> None:
        self.factor = factor

    @task
    def scale(self, x: int) -> int:
        return x * self.factor


@flow
def method_flow() -> int:
    return Scaler(3).scale(2)


def test_tasks_defined_as_methods(events: list) -> None:
    assert method_flow() == 6
    (start,) = [e for e in events if e.job.name == "method-flow/scale" and e.event_type == "START"]
    assert start.run.params == {"x": 2}  # the instance is not a parameter


def users_hook(task, task_run, state) -> None:  # noqa: ANN001
    pass


@task(on_completion=[users_hook])
def hooked(x: int) -> int:
    return x


@flow
def hooked_flow() -> int:
    return hooked(1)


def test_prefect_logs_no_lines_about_lamins_hooks(events: list) -> None:
    # at Prefect's default level (INFO) every hook adds two lines per run; lamin's would triple a task's log
    import logging

    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    loggers = [logging.getLogger(name) for name in ("prefect.task_runs", "prefect.flow_runs")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        assert hooked_flow() == 1
    finally:
        for logger, level in zip(loggers, levels):
            logger.removeHandler(handler)
            logger.setLevel(level)
    assert any("Finished in state Completed" in line for line in lines)
    assert any("Running hook 'users_hook'" in line for line in lines)  # the user's own hooks are still logged
    assert not [line for line in lines if "lamin_" in line]
    assert [e.event_type for e in events if e.job.name == "hooked-flow/hooked"] == ["START", "COMPLETE"]
