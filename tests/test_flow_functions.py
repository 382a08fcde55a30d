"""`@ln.flow()` and `@ln.step()`: runs per call, nesting, outputs, errors, threads and asyncio."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import lamin_core as ln




def save_text(folder: Path, name: str, text: str) -> ln.Artifact:
    path = folder / name
    path.write_text(text)
    return ln.Artifact(path, key=name).save()


def test_flow_and_steps_record_runs_params_outputs_and_inputs(instance, tmp_path):
    @ln.step()
    def clean(raw: ln.Artifact, factor: int = 2, api_token: str = "") -> ln.Artifact:
        """Clean the raw data."""
        text = raw.cache().read_text()
        return save_text(tmp_path, "clean.txt", text * factor)

    @ln.step()
    def count(text: str) -> int:
        return len(text)

    @ln.flow()
    def ingest(key: str, raw: ln.Artifact) -> ln.Artifact:
        cleaned = clean(raw, api_token="s3cr3t")
        count(cleaned.cache().read_text())
        return save_text(tmp_path, key, "final")

    raw = save_text(tmp_path, "raw.txt", "ab")
    final = ingest(key="final.txt", raw=raw)

    flow_run = final.run
    flow_t = flow_run.transform
    assert flow_t.key == f"{__name__}.test_flow_and_steps_record_runs_params_outputs_and_inputs.<locals>.ingest"
    assert flow_t.kind == "function" and "def ingest(" in flow_t.source_code
    assert flow_run.status == "completed" and flow_run.finished_at >= flow_run.started_at
    assert flow_run.params == {"key": "final.txt", "raw": f"Artifact:{raw.uid}"}  # `key` is not a secret
    assert flow_run.initiated_by_run is None
    children = sorted(ln.Run.filter(initiated_by_run_id=flow_run.id), key=lambda r: r.id)
    assert [r.transform.key.rsplit(".", 1)[-1] for r in children] == ["clean", "count"]
    clean_run, count_run = children
    assert clean_run.params == {"raw": f"Artifact:{raw.uid}", "factor": 2, "api_token": "***"}
    assert clean_run.transform.description == "Clean the raw data."
    assert [a.key for a in clean_run.input_artifacts] == ["raw.txt"]
    assert [a.key for a in clean_run.output_artifacts] == ["clean.txt"]
    assert count_run.status == "completed" and count_run.params == {"text": "abab"}
    # the flow read raw (argument) and clean.txt (cached): both are its inputs; final.txt its output
    assert sorted(a.key for a in flow_run.input_artifacts) == ["clean.txt", "raw.txt"]
    assert [a.key for a in flow_run.output_artifacts] == ["final.txt"]

    # calling again: the same transforms, new runs
    ingest(key="final.txt", raw=raw)
    assert len(ln.Run.filter(transform_id=flow_t.id)) == 2
    assert len(ln.Transform.filter(key=flow_t.key)) == 1


def test_errors_mark_runs_errored_and_are_reraised_unchanged(instance):
    error = ValueError("bad input")

    @ln.step()
    def fails(x: int) -> None:
        raise error

    @ln.flow()
    def outer() -> None:
        fails(1)

    with pytest.raises(ValueError) as info:
        outer()
    assert info.value is error
    flow_run = ln.Run.get(transform__key__endswith=".outer")
    step_run = ln.Run.get(transform__key__endswith=".fails")
    assert flow_run.status == "errored" and step_run.status == "errored"
    assert step_run.initiated_by_run_id == flow_run.id
    assert "ValueError: bad input" in step_run.report.load()
    assert step_run.finished_at is not None

    @ln.flow()
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert ln.Run.get(transform__key__endswith=".interrupted").status == "aborted"
    assert ln.context.current_run() is None  # nothing stays current after a failure


def test_nesting_under_track_flows_and_steps(instance, tmp_path):
    @ln.step()
    def inner_step() -> ln.Artifact:
        return save_text(tmp_path, "deep.txt", "deep")

    @ln.step()
    def outer_step() -> ln.Artifact:
        return inner_step()

    @ln.flow()
    def sub_flow() -> ln.Artifact:
        return outer_step()

    @ln.flow()
    def main_flow() -> ln.Artifact:
        return sub_flow()

    tracked = ln.track(transform=ln.Transform(key="driver.py", kind="script"))
    deep = main_flow()
    ln.finish()

    chain = []
    run = deep.run
    while run is not None:
        chain.append((run.transform.key.rsplit(".", 1)[-1] if run.transform.kind == "function" else run.transform.key, run.status))
        run = run.initiated_by_run
    assert chain == [("inner_step", "completed"), ("outer_step", "completed"), ("sub_flow", "completed"),
                     ("main_flow", "completed"), ("driver.py", "completed")]
    assert ln.Run.get(transform__key__endswith=".main_flow").initiated_by_run_id == tracked.id


def test_returned_artifacts_nobody_produced_become_outputs(instance, tmp_path):
    orphan = save_text(tmp_path, "orphan.txt", "made outside any run")
    assert orphan.run_id is None

    @ln.flow()
    def adopt() -> list:
        return [orphan, 3]

    adopt()
    run = ln.Run.get(transform__key__endswith=".adopt")
    assert ln.Artifact.get(orphan.id).run_id == run.id
    assert [a.id for a in run.output_artifacts] == [orphan.id]


def test_threads_keep_their_own_runs(instance):
    @ln.step()
    def work(i: int) -> int:
        return i * i

    @ln.flow()
    def threaded(name: str, n: int) -> None:
        barrier.wait()  # both flows are running at the same time
        for i in range(n):
            work(i)
        with ThreadPoolExecutor(2) as pool:  # context copied: the pool's steps nest under this flow
            futures = [pool.submit(contextvars.copy_context().run, work, i) for i in range(2)]
            [f.result() for f in futures]

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=threaded, args=(name, 3)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flows = {r.params["name"]: r for r in ln.Run.filter(transform__key__endswith=".threaded")}
    assert set(flows) == {"a", "b"} and all(r.status == "completed" for r in flows.values())
    for run in flows.values():
        steps = ln.Run.filter(initiated_by_run_id=run.id)
        assert sorted(r.params["i"] for r in steps) == [0, 0, 1, 1, 2]
        assert all(r.status == "completed" for r in steps)

    # a thread without the context: the step stands alone (no tracked run here)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(work, 9).result()
    [alone] = [r for r in ln.Run.filter(transform__key__endswith=".work") if r.params == {"i": 9}]
    assert alone.initiated_by_run_id is None


def test_asyncio_tasks_nest_under_their_own_flow(instance):
    @ln.step()
    async def fetch(i: int) -> int:
        await asyncio.sleep(0.01)
        return i

    @ln.flow()
    async def gather(tag: str) -> list[int]:
        return list(await asyncio.gather(*(fetch(i) for i in range(3))))

    @ln.flow()
    async def broken() -> None:
        await fetch(0)
        raise RuntimeError("async failure")

    async def main() -> list:
        return await asyncio.gather(gather("x"), gather("y"))

    assert asyncio.run(main()) == [[0, 1, 2], [0, 1, 2]]
    for run in ln.Run.filter(transform__key__endswith=".gather"):
        steps = ln.Run.filter(initiated_by_run_id=run.id)
        assert sorted(r.params["i"] for r in steps) == [0, 1, 2]
    with pytest.raises(RuntimeError, match="async failure"):
        asyncio.run(broken())
    assert ln.Run.get(transform__key__endswith=".broken").status == "errored"


def test_methods_custom_keys_and_versions(instance):
    class Pipeline:
        @ln.flow("pipelines/custom", version="2.0")
        def run(self, n: int) -> int:
            return n

        @ln.step
        def bare(self, password: str) -> str:
            return "ok"

    p = Pipeline()
    assert p.run(3) == 3
    assert p.bare("hunter2") == "ok"
    run = ln.Run.get(transform__key="pipelines/custom")
    assert run.transform.version == "2.0" and run.params == {"n": 3}  # self is not a parameter
    assert ln.Run.get(transform__key__endswith="Pipeline.bare").params == {"password": "***"}
    with pytest.raises(TypeError):
        ln.flow()(42)


def test_a_failed_save_inside_a_step_does_not_lose_its_run(instance, tmp_path):
    @ln.step()
    def flaky(n: int) -> ln.Artifact:
        gone = tmp_path / "gone.txt"
        gone.write_text("soon gone")
        doomed = ln.Artifact(gone, key="gone.txt")
        gone.unlink()  # the copy into storage fails: the save's transaction, with the step's START, rolls back
        with pytest.raises(OSError):
            doomed.save()
        return save_text(tmp_path, "kept.txt", "kept")  # the step's run must exist for this one

    @ln.flow()
    def outer() -> ln.Artifact:
        return flaky(7)

    kept = outer()
    run = kept.run
    assert run.transform.key.endswith(".flaky") and run.status == "completed"
    assert run.params == {"n": 7} and run.initiated_by_run.transform.key.endswith(".outer")
    assert len(ln.Run.filter(transform__key__endswith=".flaky")) == 1
