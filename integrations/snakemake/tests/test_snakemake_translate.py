"""The logger's translation of real Snakemake log records into lineage events (no database)."""

import logging
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from snakemake_logger_plugin_lamin import LogHandler
from snakemake_logger_plugin_lamin.files import parse_file, parse_files, split_uri
from snakemake_logger_plugin_lamin.redact import REDACTED, redact_command, redact_value
from snakemake_logger_plugin_lamin.sources import rule_blocks, snakefile_rule_blocks
from snakemake_logger_plugin_lamin.translate import Translator
from snakemake_records import copy_workflow, load_records

from lamin_core.lineage.events import Dataset, LineageEvent


def replay(name: str, tmp_path: Path, **kwargs) -> tuple[list[LineageEvent], Translator]:
    copy_workflow(name, tmp_path)
    kwargs.setdefault("exists", lambda path: True)  # the captured runs' files are not on this disk
    translator = Translator(workdir=str(tmp_path), **kwargs)
    events: list[LineageEvent] = []
    for record in load_records(name, tmp_path):
        events += translator.handle(record)
    events += translator.finish()
    return events, translator


def of_rule(events: list[LineageEvent], rule: str, event_type: str) -> list[LineageEvent]:
    return [e for e in events if e.job.name.endswith(f":{rule}") and e.event_type == event_type]


def names(datasets: tuple[Dataset, ...] | list[Dataset]) -> list[str]:
    return sorted(d.name for d in datasets)


def test_fanout_workflow_run_and_its_transform(tmp_path: Path) -> None:
    events, _ = replay("fanout", tmp_path)
    start = events[0]
    assert (start.event_type, start.job.kind, start.run.reference_type) == ("START", "pipeline", "snakemake_workflow")
    assert start.run.run_id == "c7b2e5d7-571e-4f70-9a3f-d64e63985fae"  # Snakemake's workflow_id
    assert start.job.name == f"{tmp_path.name}/Snakefile"
    # the source is the Snakefile followed by the config files' content
    assert "rule count:" in start.job.source_code and "samples: [a, b]" in start.job.source_code
    assert start.run.params["config"] == {"samples": ["a", "b"]}
    assert "--cores 2" in start.run.params["command"]
    end = events[-1]
    assert (end.event_type, end.run.run_id, end.job) == ("COMPLETE", start.run.run_id, start.job)


def test_fanout_jobs_are_child_runs_with_files(tmp_path: Path) -> None:
    events, _ = replay("fanout", tmp_path)
    wf_id = events[0].run.run_id
    starts = [e for e in events if e.event_type == "START" and e.job.kind == "function"]
    assert sorted(e.job.name.rsplit(":", 1)[1] for e in starts) == ["all", "count", "count", "make", "make", "merge"]
    for e in starts:
        assert e.run.parent.run_id == wf_id and e.run.parent.reference_type == "snakemake_workflow"
        assert e.run.reference_type == "snakemake_job"
        uuid.UUID(e.run.run_id)  # OpenLineage run ids are UUIDs
    assert len({e.run.run_id for e in starts}) == 6

    count_a = next(e for e in of_rule(events, "count", "START") if e.run.params["wildcards"] == {"s": "a"})
    assert count_a.run.params["threads"] == 2
    assert count_a.run.params["resources"]["mem_mb"] == 100
    assert "_cores" not in count_a.run.params["resources"]
    assert count_a.run.params["shell"] == "wc -c data/a.txt ref.txt > results/a.count 2> logs/a.log"
    assert names(count_a.inputs) == [str(tmp_path / "data/a.txt"), str(tmp_path / "ref.txt")]
    assert all(d.namespace == "file" and d.storage_root == str(tmp_path) for d in count_a.inputs)

    done = next(e for e in of_rule(events, "count", "COMPLETE") if e.run.run_id == count_a.run.run_id)
    kinds = {d.name: d.kind for d in done.outputs}
    assert kinds == {
        str(tmp_path / "results/a.count"): None,
        str(tmp_path / "logs/a.log"): "log",
        str(tmp_path / "bench/a.tsv"): "benchmark",
    }


def test_rule_source_is_the_rule_block_and_the_same_for_every_job(tmp_path: Path) -> None:
    events, _ = replay("fanout", tmp_path)
    sources = {e.job.source_code for e in of_rule(events, "count", "START")}
    assert len(sources) == 1
    (source,) = sources
    assert source.startswith("rule count:") and "wc -c {input}" in source and "rule merge" not in source
    merge = of_rule(events, "merge", "START")[0]
    assert "f.write(open(i).read())" in merge.job.source_code  # a `run:` block is the rule's code
    assert "shell" not in merge.run.params  # no shell command for a run: block


def test_skip_unproduced_inputs_keeps_only_inputs_made_by_jobs(tmp_path: Path) -> None:
    events, _ = replay("fanout", tmp_path, register_unproduced_inputs=False)
    count_a = next(e for e in of_rule(events, "count", "START") if e.run.params["wildcards"] == {"s": "a"})
    assert names(count_a.inputs) == [str(tmp_path / "data/a.txt")]  # ref.txt came from no job


def test_failed_job_and_failed_workflow(tmp_path: Path) -> None:
    events, _ = replay("failing", tmp_path)
    (fail,) = of_rule(events, "bad", "FAIL")
    assert "returned non-zero exit status 3" in fail.run.error_message
    assert [(d.name, d.kind) for d in fail.outputs] == [(str(tmp_path / "logs/bad.log"), "log")]
    assert not of_rule(events, "ok", "START")  # never started: Snakemake stopped after the failure
    end = events[-1]
    assert end.job.kind == "pipeline" and end.event_type == "FAIL"
    assert "At least one job did not complete successfully" in end.run.error_message


def test_outputs_missing_on_disk_are_not_reported(tmp_path: Path) -> None:
    events, _ = replay("fanout", tmp_path, exists=lambda path: not path.endswith(".tsv"))
    done = of_rule(events, "count", "COMPLETE")
    assert done and all(d.kind != "benchmark" for e in done for d in e.outputs)


def test_checkpoint_outputs_and_jobs_added_after_it(tmp_path: Path) -> None:
    events, _ = replay("checkpoint", tmp_path)
    (split,) = of_rule(events, "split", "COMPLETE")
    assert names(split.outputs) == [str(tmp_path / "parts")]  # the checkpoint's directory output
    doubles = of_rule(events, "double", "START")
    assert sorted(n for e in doubles for n in names(e.inputs)) == [str(tmp_path / f"parts/p{i}.txt") for i in (1, 2, 3)]
    assert "checkpoints.split.get()" not in of_rule(events, "agg", "START")[0].job.source_code
    assert events[-1].event_type == "COMPLETE"


def test_interrupted_run_aborts_unfinished_jobs_and_the_workflow(tmp_path: Path) -> None:
    copy_workflow("fanout", tmp_path)
    translator = Translator(workdir=str(tmp_path), exists=lambda path: True)
    records = load_records("fanout", tmp_path)
    cut = next(i for i, r in enumerate(records) if getattr(r, "event", "") == "job_info" and r.rule_name == "count")
    events = [e for r in records[: cut + 1] for e in translator.handle(r)]
    events += translator.finish()
    assert [e.event_type for e in events[-2:]] == ["ABORT", "ABORT"]
    assert events[-2].job.name.endswith(":count") and events[-1].job.kind == "pipeline"
    assert translator.finish() == []  # finishing twice records nothing more


def test_nothing_to_be_done_is_a_completed_workflow_run(tmp_path: Path) -> None:
    copy_workflow("fanout", tmp_path)
    translator = Translator(workdir=str(tmp_path))
    (started,) = [r for r in load_records("fanout", tmp_path) if getattr(r, "event", "") == "workflow_started"]
    events = translator.handle(started) + translator.finish()
    assert [e.event_type for e in events] == ["START", "COMPLETE"]


def test_secrets_are_redacted_from_params(tmp_path: Path) -> None:
    copy_workflow("fanout", tmp_path)
    (tmp_path / "config.yaml").write_text("samples: [a]\ndb:\n  password: hunter2\n  host: db1\n")
    records = load_records("fanout", tmp_path)
    records[0].cmd = "snakemake --logger lamin --logger-lamin-token s3cr3t --config api_key=abc n=1"
    events = Translator(workdir=str(tmp_path)).handle(records[0])
    params = events[0].run.params
    assert params["config"]["db"] == {"password": REDACTED, "host": "db1"}
    assert "s3cr3t" not in params["command"] and "abc" not in params["command"] and "n=1" in params["command"]


def test_storage_files_go_through_the_uri_resolver(tmp_path: Path) -> None:
    copy_workflow("fanout", tmp_path)
    seen: list[tuple[str, str]] = []

    def resolve(uri: str, role: str) -> Dataset | None:
        seen.append((uri, role))
        return Dataset(namespace="lamin", name=uri.removeprefix("lamin://")) if uri.startswith("lamin://") else None

    translator = Translator(workdir=str(tmp_path), resolve_uri=resolve, exists=lambda path: True)
    translator.handle(load_records("fanout", tmp_path)[0])
    info = logging.makeLogRecord(
        dict(
            event="job_info",
            jobid=1,
            rule_name="fetch",
            input=["lamin://raw/a.csv (retrieve from storage)", "s3://bucket/x (only provide storage uri)"],
            output=["lamin://clean/a.csv (send to storage)", "local.txt"],
            log=[],
            benchmark=None,
            wildcards={},
            threads=1,
        )
    )
    (start,) = translator.handle(info)
    (done,) = translator.handle(logging.makeLogRecord(dict(event="job_finished", job_id=1)))
    assert seen == [("lamin://raw/a.csv", "input"), ("s3://bucket/x", "input"), ("lamin://clean/a.csv", "output")]
    assert names(start.inputs) == ["raw/a.csv"]  # the s3 input resolved to None: skipped
    assert names(done.outputs) == sorted(["clean/a.csv", str(tmp_path / "local.txt")])


@pytest.mark.parametrize(
    ("display", "name", "labels"),
    [
        ("data/a.txt", "data/a.txt", set()),
        ("lamin://raw/a.csv (retrieve from storage)", "lamin://raw/a.csv", {"retrieve from storage"}),
        ("out.fifo (pipe, send to storage)", "out.fifo", {"pipe", "send to storage"}),
        ("big.bam (access: sequential)", "big.bam", {"access: sequential"}),
        ("report (final).txt", "report (final).txt", set()),  # not an annotation: the file's real name
        ("plots (draft)", "plots (draft)", set()),
    ],
)
def test_parse_file_strips_only_snakemake_annotations(display: str, name: str, labels: set[str]) -> None:
    ref = parse_file(display)
    assert (ref.name, set(ref.labels)) == (name, labels)


def test_pipes_and_unknown_checkpoint_targets_are_not_files() -> None:
    assert [r.name for r in parse_files(["a.txt", "x.fifo (pipe)", "<TBD>", "s (service)"])] == ["a.txt"]
    assert [r.name for r in parse_files("bench.tsv")] == ["bench.tsv"]
    assert parse_files(None) == []
    assert split_uri("s3://bucket/a/b.txt") == ("s3://bucket", "a/b.txt")


def test_rule_blocks_and_includes(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "extra.smk").write_text("rule extra:\n    output: 'e'\n    shell: 'touch {output}'\n")
    (tmp_path / "Snakefile").write_text(
        'include: "rules/extra.smk"\n\n'
        "rule a:\n    output: 'a'\n\n    shell:\n        '''\n        touch {output}\n        '''\n\n"
        "if True:\n    checkpoint b:\n        output: 'b'\n        run:\n            open(output[0], 'w')\n"
        "x = 1\n"
    )
    blocks = snakefile_rule_blocks(str(tmp_path / "Snakefile"))
    assert set(blocks) == {"a", "b", "extra"}
    assert blocks["a"].endswith("        '''\n") and "x = 1" not in blocks["b"]
    assert "open(output[0], 'w')" in blocks["b"]
    assert rule_blocks("rule: \n  shell: 'x'\n") == {}  # unnamed rules have no stable name


def test_redact_helpers() -> None:
    redacted = redact_command("snakemake --logger-lamin-token=abc --cores 2")
    assert redacted == f"snakemake --logger-lamin-token={REDACTED} --cores 2"
    assert redact_command("x --config secret_key='a b' keep=1") == f"x --config secret_key={REDACTED} keep=1"
    assert redact_value({"AWS_ACCESS_KEY_ID": "x", "nested": [{"token": 1, "t": 2}]}) == {
        "AWS_ACCESS_KEY_ID": REDACTED,
        "nested": [{"token": REDACTED, "t": 2}],
    }


def test_dry_run_records_nothing() -> None:
    handler = LogHandler(SimpleNamespace(dryrun=True), None)
    assert handler._recorder is None
    handler.emit(logging.makeLogRecord(dict(event="workflow_started", workflow_id=uuid.uuid4())))
    handler.close()


def test_retried_job_is_one_run_with_two_attempts_and_the_workflow_completes(tmp_path: Path) -> None:
    events, _ = replay("retry", tmp_path)
    flaky = [(e.event_type, e.run.attempt) for e in events if e.job.name.endswith(":flaky")]
    assert flaky == [("START", 1), ("FAIL", 1), ("START", 2), ("COMPLETE", 2)]
    assert len({e.run.run_id for e in events if e.job.name.endswith(":flaky")}) == 1
    assert events[-1].job.kind == "pipeline" and events[-1].event_type == "COMPLETE"


def test_a_server_that_is_not_a_url_fails_before_anything_runs() -> None:
    from snakemake_interface_common.exceptions import WorkflowError
    from snakemake_logger_plugin_lamin import LogHandlerSettings

    with pytest.raises(WorkflowError, match="must be an http"):
        LogHandler(SimpleNamespace(dryrun=False), LogHandlerSettings(server="dbhost:8000"))


def test_snakemake_finds_both_plugins_without_loading_lamin_core() -> None:
    # Snakemake imports every installed plugin module whenever it starts, even for `--help`
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from snakemake_interface_logger_plugins.registry import LoggerPluginRegistry\n"
        "from snakemake_interface_storage_plugins.registry import StoragePluginRegistry\n"
        "assert LoggerPluginRegistry().is_installed('lamin')\n"
        "assert StoragePluginRegistry().is_installed('lamin')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lamin_core', 'sqlalchemy')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
