"""Write the folders a Nextflow run leaves behind, in every format the adapter reads (test fixtures).

Nextflow cannot run here, so this writes what it would: task work dirs with their files, published copies,
the lineage store (25.07+ `{version, kind, spec}` records or 25.04 flat ones), the execution trace (raw or
human), `.nextflow/history`, an nf-prov legacy manifest and the weblog events, with the shapes of the
samples built from Nextflow's source (`integrations/nextflow/tests/samples`). Paths are written with the
placeholder `@RUN@` for the run folder; `materialize()` copies a fixture and fills it in.

`python integrations/nextflow/tests/nfgen.py` regenerates `tests/fixtures/` and `examples/nextflow/run/`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

PLACEHOLDER = "@RUN@"
FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE_RUN = Path(__file__).resolve().parents[3] / "examples" / "nextflow" / "run"
SESSION = "4f1c2e8a-9b7d-4c3e-a1f0-2d5e6b7c8d9e"
COMMIT = "86165b8c81d43a1f57363964431395152e353e56"
T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


@dataclass
class Attempt:
    status: str = "COMPLETED"  # COMPLETED, FAILED, CACHED
    exit: int = 0
    error_action: str | None = None
    seconds: int = 30


@dataclass
class TaskSpec:
    process: str
    tag: str | None
    inputs: list[str]  # "data/x.fq.gz" (raw, under the run dir or a URI) or "task:<TAG or PROCESS>/<file>"
    outputs: list[str]
    publish: str | None = None  # sub-folder of the output dir, or None
    attempts: list[Attempt] = field(default_factory=lambda: [Attempt()])
    cached_from: str | None = None  # run name whose task this reuses (-resume)
    unpublished: tuple[str, ...] = ()  # outputs left in the work dir only

    @property
    def name(self) -> str:
        return f"NFCORE_DEMO:DEMO:{self.process}" + (f" ({self.tag})" if self.tag else "")


@dataclass
class RunSpec:
    run_name: str
    tasks: list[TaskSpec]
    start: datetime = T0
    resume: bool = False
    success: bool = True


class Writer:
    """Writes one launch folder holding one or more runs of the demo pipeline."""

    def __init__(self, root: Path, *, fmt: str = "wrapped", trace: str = "raw", outdir: str | None = None,
                 workdir: str | None = None, data: str | None = None, nfprov: bool = False) -> None:
        self.root, self.fmt, self.trace_kind, self.nfprov = root, fmt, trace, nfprov
        self.outdir = outdir or f"{PLACEHOLDER}/results"
        self.workdir = workdir or f"{PLACEHOLDER}/work"
        self.data = data or f"{PLACEHOLDER}/data"
        self.hashes: dict[tuple[str, str, int], str] = {}  # (run, task name, attempt) -> hash
        self.outputs: dict[str, tuple[str, str]] = {}  # "TAG/file" -> (task hash, path) of the last run that wrote it
        self.weblog: list[dict[str, Any]] = []
        self.history: list[str] = []
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)

    # ---- files -------------------------------------------------------------------------------------
    def _local(self, path: str) -> Path | None:
        return self.root / path[len(PLACEHOLDER) + 1 :] if path.startswith(PLACEHOLDER + "/") else None

    def _write_file(self, path: str, content: str) -> tuple[str, int]:
        local = self._local(path)
        if local is not None:
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_text(content)
        return md5(content), len(content.encode())

    def _record(self, key: str, kind: str, spec: dict[str, Any]) -> None:
        doc = {"version": "lineage/v1beta1", "kind": kind}
        doc.update({"spec": spec} if self.fmt == "wrapped" else spec)
        target = self.root / ".lineage" / key / ".data.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(doc, indent=2))

    # ---- a run -------------------------------------------------------------------------------------
    def run(self, spec: RunSpec) -> None:
        run_hash = md5(f"{SESSION}/{spec.run_name}")
        lid = f"lid://{run_hash}"
        params = {"input": f"{PLACEHOLDER}/samplesheet.csv", "outdir": self.outdir, "max_cpus": "4",
                  "aws_secret_key": "hunter2", "publish_dir_mode": "copy"}
        self._write_file(f"{PLACEHOLDER}/samplesheet.csv", "sample,fastq_1\nS1,data/S1_1.fastq.gz\nS2,data/S2.fastq.gz\n")
        self._record(run_hash, "WorkflowRun", {
            "workflow": {"scriptFiles": [{"path": f"https://github.com/nf-core/demo/tree/{COMMIT}/main.nf",
                                          "checksum": {"value": "2902f5aa7f297f2dccd6baebac7730a2",
                                                       "algorithm": "nextflow", "mode": "standard"}}],
                         "repository": "https://github.com/nf-core/demo", "commitId": COMMIT},
            "sessionId": SESSION, "name": spec.run_name,
            "params": [{"type": "String", "name": k, "value": v} for k, v in params.items()],
            "config": {"lineage": {"enabled": True}, "outputDir": self.outdir, "workDir": self.workdir,
                       "manifest": {"name": "nf-core/demo", "version": "1.0.2", "description": "An nf-core demo pipeline"}},
            "metadata": {"nextflow": {"version": "25.10.0"}, "userName": "alice", "launchDir": PLACEHOLDER,
                         "start": spec.start.strftime("%Y-%m-%dT%H:%M:%SZ")},
        })
        self._history_lineage(run_hash, spec)
        workflow = self._workflow_meta(spec, params)
        self.weblog.append({"runName": spec.run_name, "runId": SESSION, "event": "started",
                            "utcTime": workflow["start"], "metadata": {"parameters": params, "workflow": workflow}})
        rows: list[dict[str, Any]] = []
        clock = spec.start + timedelta(seconds=1)
        task_id = 0
        published: list[dict[str, Any]] = []
        prov_tasks: dict[str, Any] = {}
        for task in spec.tasks:
            for number, attempt in enumerate(task.attempts, start=1):
                task_id += 1
                if task.cached_from:
                    h = self.hashes[(task.cached_from, task.name, number)]
                else:
                    h = md5(f"{spec.run_name}:{task.name}:{number}")
                self.hashes[(spec.run_name, task.name, number)] = h
                workdir = f"{self.workdir}/{h[:2]}/{h[2:]}"
                submit, start = clock, clock + timedelta(seconds=1)
                complete = start + timedelta(seconds=attempt.seconds)
                clock = complete + timedelta(seconds=1)
                row = self._row(task_id, h, task, number, attempt, workdir, submit, start, complete)
                rows.append(row)
                if attempt.status == "CACHED":
                    continue
                inputs = self._inputs(task, h, lid, attempt)
                self._weblog_task(spec.run_name, row)
                if attempt.status != "COMPLETED":
                    continue
                outs = []
                for name in task.outputs:
                    path = f"{workdir}/{name}"
                    checksum, size = self._write_file(path, f"{task.name} wrote {name}\n")
                    self._record(f"{h}/{name}", "FileOutput", self._file_spec(path, checksum, size, f"lid://{h}",
                                                                             lid, f"lid://{h}", complete))
                    self.outputs[f"{task.tag or task.process}/{name}"] = (h, path)
                    outs.append({"type": "path", "name": name.split(".")[-1], "value": f"lid://{h}/{name}"})
                self._record(f"{h}#output", "TaskOutput", {"taskRun": f"lid://{h}", "workflowRun": lid,
                                                           "createdAt": _iso(complete), "output": outs, "labels": None})
                prov_tasks[str(task_id)] = {"id": str(task_id), "name": task.name, "cached": False,
                                            "process": task.process, "script": f"{task.process.lower()} {task.tag or ''}",
                                            "inputs": [{"name": "reads", "value": [i["path"] for i in inputs]}],
                                            "outputs": [{"name": n, "emit": n, "value": f"{workdir}/{n}"} for n in task.outputs]}
            if task.publish and task.attempts[-1].status in ("COMPLETED", "CACHED"):
                h = self.hashes[(spec.run_name, task.name, len(task.attempts))]
                for name in (n for n in task.outputs if n not in task.unpublished):
                    rel = f"{task.publish}/{name}"
                    target = f"{self.outdir}/{rel}"
                    checksum, size = self._write_file(target, f"{task.name} wrote {name}\n")
                    self._record(f"{run_hash}/{rel}", "FileOutput", self._file_spec(
                        target, checksum, size, f"lid://{h}/{name}", lid, None, clock, labels=[task.process.lower()]))
                    published.append({"source": f"{self.workdir}/{h[:2]}/{h[2:]}/{name}", "target": target,
                                      "publishingTaskId": next((k for k, v in prov_tasks.items() if v["name"] == task.name), None)})
        end = clock + timedelta(seconds=2)
        if spec.success:
            self._record(f"{run_hash}#output", "WorkflowOutput", {"createdAt": _iso(end), "workflowRun": lid, "output": []})
        self._trace(spec, rows)
        self.history.append("\t".join([spec.start.strftime("%Y-%m-%d %H:%M:%S"), f"{int((end - spec.start).total_seconds())}s",
                                       spec.run_name, "OK" if spec.success else "ERR", COMMIT[:10], SESSION,
                                       "nextflow run nf-core/demo -r 1.0.2 -profile docker --input samplesheet.csv"
                                       " --outdir results" + (" -resume" if spec.resume else "")]))
        workflow.update({"complete": _iso(end), "duration": ms(end) - ms(spec.start), "success": spec.success,
                         "exitStatus": 0 if spec.success else 1,
                         "errorMessage": None if spec.success else "Process terminated with an error exit status (1)"})
        self.weblog.append({"runName": spec.run_name, "runId": SESSION, "event": "completed", "utcTime": _iso(end),
                            "metadata": {"parameters": params, "workflow": workflow}})
        if self.nfprov:
            manifest = {"pipeline": {"name": "nf-core/demo", "version": "1.0.2", "description": "An nf-core demo pipeline"},
                        "published": published, "tasks": prov_tasks}
            target = self.root / "results" / "manifest.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(manifest, indent=2))

    def _inputs(self, task: TaskSpec, h: str, lid: str, attempt: Attempt) -> list[dict[str, Any]]:
        files: list[Any] = []
        raw: list[dict[str, Any]] = []
        for item in task.inputs:
            if item.startswith("task:"):
                files.append(f"lid://{self.outputs[item[5:]][0]}/{item[5:].split('/', 1)[1]}")
            else:
                path = item if "://" in item else f"{self.data}/{item}"
                checksum, _ = self._write_file(path, f"reads of {item}\n")
                entry = {"path": path, "checksum": {"value": checksum, "algorithm": "nextflow", "mode": "standard"}}
                files.append(entry)
                raw.append(entry)
        self._record(h, "TaskRun", {
            "sessionId": SESSION, "name": task.name,
            "codeChecksum": {"value": md5(task.process), "algorithm": "nextflow", "mode": "standard"},
            "script": f"\n    {task.process.lower()} {task.tag or ''}\n    ",
            "input": [{"type": "val", "name": "meta", "value": {"id": task.tag}}, {"type": "path", "name": "reads", "value": files}],
            "container": f"quay.io/biocontainers/{task.process.lower()}:1.0", "conda": None, "spack": None,
            "architecture": None, "globalVars": {}, "binEntries": [], "workflowRun": lid,
        })
        return raw

    @staticmethod
    def _file_spec(path, checksum, size, source, lid, task, when, labels=None) -> dict[str, Any]:
        return {"path": path, "checksum": {"value": checksum, "algorithm": "nextflow", "mode": "standard"},
                "source": source, "workflowRun": lid, "taskRun": task, "size": size,
                "createdAt": _iso(when), "modifiedAt": _iso(when), "labels": labels}

    def _row(self, task_id, h, task, number, attempt, workdir, submit, start, complete) -> dict[str, Any]:
        return {"task_id": task_id, "hash": f"{h[:2]}/{h[2:8]}", "native_id": 31000 + task_id,
                "process": task.name.split(" ")[0], "tag": task.tag, "name": task.name, "status": attempt.status,
                "exit": attempt.exit, "container": f"quay.io/biocontainers/{task.process.lower()}:1.0", "cpus": 2,
                "time": 14400000, "memory": 6442450944, "attempt": number, "submit": ms(submit), "start": ms(start),
                "complete": ms(complete), "duration": ms(complete) - ms(submit), "realtime": ms(complete) - ms(start),
                "%cpu": 187.4, "peak_rss": 301989888, "peak_vmem": 4012003328, "rchar": 11543040, "wchar": 892416,
                "workdir": workdir, "error_action": attempt.error_action, "script": f"{task.process.lower()} {task.tag or ''}"}

    def _weblog_task(self, run_name: str, row: dict[str, Any]) -> None:
        base = {k: row[k] for k in ("task_id", "hash", "name", "process", "tag", "container", "attempt", "workdir",
                                     "cpus", "memory", "time", "native_id", "script")}
        for event, status, extra in (("process_submitted", "SUBMITTED", ("submit",)),
                                     ("process_started", "RUNNING", ("submit", "start")),
                                     ("process_completed", row["status"], tuple(k for k in row if k not in base))):
            trace = dict(base, status=status, exit=row["exit"] if event == "process_completed" else None,
                         **{k: row[k] for k in extra if k not in ("status", "exit")})
            when = {"process_submitted": row["submit"], "process_started": row["start"]}.get(event, row["complete"])
            self.weblog.append({"runName": run_name, "runId": SESSION, "event": event,
                                "utcTime": _iso(datetime.fromtimestamp(when / 1000, tz=timezone.utc)), "trace": trace})

    def _workflow_meta(self, spec: RunSpec, params: dict[str, Any]) -> dict[str, Any]:
        return {"runName": spec.run_name, "scriptId": "2902f5aa7f297f2dccd6baebac7730a2",
                "scriptFile": f"{PLACEHOLDER}/main.nf", "scriptName": "main.nf", "repository": "https://github.com/nf-core/demo",
                "commitId": COMMIT, "revision": "1.0.2", "start": _iso(spec.start), "complete": None,
                "nextflow": {"version": "25.10.0"}, "success": False, "projectName": "nf-core/demo",
                "launchDir": PLACEHOLDER, "outputDir": self.outdir, "workDir": self.workdir, "userName": "alice",
                "sessionId": SESSION, "resume": spec.resume, "profile": "docker",
                "manifest": {"name": "nf-core/demo", "version": "1.0.2", "description": "An nf-core demo pipeline"}}

    def _history_lineage(self, run_hash: str, spec: RunSpec) -> None:
        target = self.root / ".lineage" / ".history" / run_hash
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"{spec.start.strftime('%Y-%m-%d %H:%M:%S')} UTC\t{spec.run_name}\t{SESSION}\tlid://{run_hash}\n")

    def _trace(self, spec: RunSpec, rows: list[dict[str, Any]]) -> None:
        target = self.root / "results" / "pipeline_info" / f"execution_trace_{spec.start:%Y-%m-%d_%H-%M-%S}.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.trace_kind == "raw":
            fields = ["task_id", "hash", "native_id", "process", "tag", "name", "status", "exit", "container", "cpus",
                      "time", "memory", "attempt", "submit", "start", "complete", "duration", "realtime", "%cpu",
                      "peak_rss", "peak_vmem", "rchar", "wchar", "workdir", "error_action"]
            lines = ["\t".join(fields)] + ["\t".join(_cell(r[f]) for f in fields) for r in rows]
        else:  # the default fields, human-formatted (no workdir: only the short hash names the task)
            fields = ["task_id", "hash", "native_id", "name", "status", "exit", "submit", "duration", "realtime",
                      "%cpu", "peak_rss", "peak_vmem", "rchar", "wchar"]
            lines = ["\t".join(fields)] + ["\t".join(_human(f, r[f]) for f in fields) for r in rows]
        target.write_text("\n".join(lines) + "\n")

    def close(self) -> None:
        if self.history:
            (self.root / ".nextflow").mkdir(exist_ok=True)
            (self.root / ".nextflow" / "history").write_text("\n".join(self.history) + "\n")
        (self.root / "weblog.jsonl").write_text("".join(json.dumps(e) + "\n" for e in self.weblog))
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "nf-core/demo parameters",
                  "$defs": {"input_output_options": {"properties": {
                      "input": {"type": "string", "format": "file-path"},
                      "outdir": {"type": "string", "format": "directory-path"}}},
                      "max_job_request_options": {"properties": {"max_cpus": {"type": "integer"}}}}}
        (self.root / "nextflow_schema.json").write_text(json.dumps(schema, indent=2))


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def _human(field_name: str, value: Any) -> str:
    if value is None:
        return "-"
    if field_name == "submit":
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.000")
    if field_name in ("duration", "realtime"):
        return f"{value / 1000:g}s"
    if field_name == "%cpu":
        return f"{value}%"
    if field_name in ("peak_rss", "peak_vmem", "rchar", "wchar"):
        return f"{value / 1024 ** 2:.1f} MB"
    return str(value)


def demo_tasks(*, s1: list[Attempt] | None = None, s2: list[Attempt] | None = None, multiqc: list[Attempt] | None = None,
               extra: list[Attempt] | None = None, cached_from: str | None = None) -> list[TaskSpec]:
    tasks = [
        TaskSpec("FASTQC", "S1", ["S1_1.fastq.gz", "S1_2.fastq.gz"], ["S1_fastqc.html", "S1_fastqc.zip"], "fastqc",
                 s1 or [Attempt()], cached_from),
        TaskSpec("FASTQC", "S2", ["S2.fastq.gz"], ["S2_fastqc.html", "S2_fastqc.zip"], "fastqc", s2 or [Attempt()], cached_from),
    ]
    if extra is not None:
        tasks.append(TaskSpec("SEQKIT_STATS", "S2", ["S2.fastq.gz"], ["S2.stats.tsv"], None, extra))
    if multiqc != []:
        tasks.append(TaskSpec("MULTIQC", None, ["task:S1/S1_fastqc.zip", "task:S2/S2_fastqc.zip"],
                              ["multiqc_report.html", "multiqc_data.json"], "multiqc", multiqc or [Attempt(seconds=58)],
                              unpublished=("multiqc_data.json",)))
    return tasks


def generate(base: Path = FIXTURES) -> None:
    w = Writer(base / "success")
    w.run(RunSpec("golden_turing", demo_tasks()))
    w.close()

    w = Writer(base / "retry", trace="default")  # a retried task, an ignored failure; the human trace
    w.run(RunSpec("brave_curie", demo_tasks(s1=[Attempt("FAILED", 137, "RETRY", 5), Attempt()],
                                            extra=[Attempt("FAILED", 1, "IGNORE", 3)])))
    w.close()

    w = Writer(base / "failed")
    w.run(RunSpec("sad_hopper", demo_tasks(s2=[Attempt("FAILED", 1, "TERMINATE", 8)], multiqc=[]), success=False))
    w.close()

    w = Writer(base / "resume")  # the first run fails in MULTIQC; `-resume` reuses FASTQC and finishes
    w.run(RunSpec("golden_turing", demo_tasks(multiqc=[Attempt("FAILED", 1, "TERMINATE", 4)]), success=False))
    w.run(RunSpec("silly_euler", demo_tasks(s1=[Attempt("CACHED")], s2=[Attempt("CACHED")], cached_from="golden_turing"),
                  start=T0 + timedelta(hours=1), resume=True))
    w.close()

    w = Writer(base / "s3", outdir="s3://lamin-nf-test/results", workdir="s3://lamin-nf-test/work",
               data="s3://lamin-nf-test/data")
    w.run(RunSpec("eager_bohr", demo_tasks()))
    w.close()

    w = Writer(base / "flat", fmt="flat", trace="default", nfprov=True)  # 25.04 records, nf-prov manifest
    w.run(RunSpec("tender_lovelace", demo_tasks()))
    w.close()

    w = Writer(base / "broken")
    w.run(RunSpec("odd_turing", demo_tasks()))
    w.close()
    _break(base / "broken")

    if base == FIXTURES:  # the example's run folder is the success fixture
        shutil.rmtree(EXAMPLE_RUN, ignore_errors=True)
        shutil.copytree(base / "success", EXAMPLE_RUN, ignore=shutil.ignore_patterns("weblog.jsonl"))


def _break(root: Path) -> None:
    """A lineage record of an unknown kind, an unreadable one, a trace cut off mid-row, a missing file."""
    unknown = root / ".lineage" / "0123456789abcdef0123456789abcdef" / ".data.json"
    unknown.parent.mkdir(parents=True)
    unknown.write_text(json.dumps({"version": "lineage/v1beta1", "kind": "AgentRun", "spec": {"agent": "x"}}))
    bad = root / ".lineage" / "fedcba9876543210fedcba9876543210" / ".data.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"version": "lineage/v1beta1", "kind": "TaskRun", "spec": {"name": ')
    trace = next((root / "results" / "pipeline_info").glob("execution_trace_*.txt"))
    text = trace.read_text()
    trace.write_text(text[: text.rstrip("\n").rfind("\t", 0, len(text) - 40)])
    # an nf-prov manifest naming a published file that is gone (and nf-prov records no checksums)
    (root / "results" / "manifest.json").write_text(json.dumps({
        "pipeline": {"name": "nf-core/demo"}, "tasks": {},
        "published": [{"source": None, "target": f"{PLACEHOLDER}/results/multiqc/gone.html", "publishingTaskId": None}],
    }, indent=2))


def materialize(name: str, dest: Path) -> Path:
    """Copy fixture `name` to `dest`, replacing the `@RUN@` placeholder with `dest`'s absolute path."""
    source = FIXTURES / name
    dest = dest.resolve()
    shutil.copytree(source, dest, dirs_exist_ok=True)
    for path in dest.rglob("*"):
        if path.is_file():
            try:
                text = path.read_text()
            except UnicodeDecodeError:
                continue
            if PLACEHOLDER in text:
                path.write_text(text.replace(PLACEHOLDER, str(dest)))
    return dest


if __name__ == "__main__":
    generate()
    print(f"wrote fixtures under {FIXTURES}")
