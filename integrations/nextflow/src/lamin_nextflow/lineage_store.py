"""The lineage store that `lineage.enabled = true` writes (default `.lineage/` in the launch directory).

Layout (model `lineage/v1beta1`): each record is `<store>/<key>/.data.json`, with keys
`<runHash>` (WorkflowRun), `<taskHash>` (TaskRun), `<taskHash>/<file>` (a task's FileOutput),
`<taskHash>#output` (TaskOutput), `<runHash>/<path>` (a published FileOutput), `<runHash>#output`
(WorkflowOutput), and `.history/<runHash>` lines `date<TAB>runName<TAB>sessionId<TAB>lid://<runHash>`.
Since 25.07 a record is `{version, kind, spec}`; 25.04 wrote the spec's fields flat beside version and
kind. Both are read. Records of a kind this reader does not know are skipped with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._util import is_full_hash, parse_datetime, task_hash_from_path
from .records import FileRef, PipelineMeta, Skipped, TaskRecord

LID = "lid://"
DATA_FILE = ".data.json"
KNOWN_KINDS = ("WorkflowRun", "TaskRun", "FileOutput", "TaskOutput", "WorkflowOutput", "Workflow")


@dataclass
class LineageStore:
    root: str
    runs: dict[str, PipelineMeta] = field(default_factory=dict)  # by run hash
    tasks: dict[str, TaskRecord] = field(default_factory=dict)  # by full task hash
    work_files: dict[str, FileRef] = field(default_factory=dict)  # by key `<taskHash>/<rel>`
    published: dict[str, list[FileRef]] = field(default_factory=dict)  # by run hash
    task_outputs: set[str] = field(default_factory=set)  # task hashes with a TaskOutput record
    run_ends: dict[str, Any] = field(default_factory=dict)  # run hash -> WorkflowOutput createdAt
    skipped: list[Skipped] = field(default_factory=list)


def lid_key(value: Any) -> str | None:
    """`lid://<key>` -> `<key>`; anything else -> None."""
    if isinstance(value, str) and value.startswith(LID):
        return value[len(LID) :].strip("/") or None
    return None


def _unwrap(doc: Any) -> tuple[str | None, dict[str, Any] | None]:
    """(kind, spec) of a record in either format; (None, None) when it is not a lineage record."""
    if not isinstance(doc, dict) or "kind" not in doc:
        return None, None
    kind = doc.get("kind")
    spec = doc.get("spec")
    if isinstance(spec, dict):  # 25.07 and later
        return kind, spec
    return kind, {k: v for k, v in doc.items() if k not in ("version", "kind")}  # 25.04: flat


def _checksum(spec: dict[str, Any]) -> tuple[str | None, str | None]:
    checksum = spec.get("checksum")
    if isinstance(checksum, dict):
        return checksum.get("value"), checksum.get("algorithm")
    if isinstance(checksum, str):
        return checksum, None
    return None, None


def _params(items: Any) -> dict[str, Any]:
    """The store's `[{type, name, value}]` parameter list as a plain dict."""
    if isinstance(items, dict):
        return dict(items)
    out: dict[str, Any] = {}
    for item in items or []:
        if isinstance(item, dict) and "name" in item:
            out[str(item["name"])] = item.get("value")
    return out


def _input_files(value: Any, into: list[FileRef]) -> None:
    """Collect file inputs from a TaskRun `path` parameter: DataPath dicts, lid strings, plain paths, nested."""
    if isinstance(value, list):
        for item in value:
            _input_files(item, into)
    elif isinstance(value, dict) and "path" in value:
        checksum, algorithm = _checksum(value)
        into.append(FileRef(path=str(value["path"]), checksum=checksum, algorithm=algorithm))
    elif isinstance(value, str) and value:
        into.append(FileRef(path=value))


def _workflow_run(key: str, spec: dict[str, Any]) -> PipelineMeta:
    workflow = spec.get("workflow") or {}
    scripts = workflow.get("scriptFiles") or []
    main = scripts[0] if scripts and isinstance(scripts[0], dict) else {}
    config = spec.get("config") or {}
    metadata = spec.get("metadata") or {}
    manifest = config.get("manifest") if isinstance(config.get("manifest"), dict) else {}
    main_checksum, _ = _checksum(main)
    return PipelineMeta(
        session_id=str(spec.get("sessionId") or ""),
        run_name=str(spec.get("name") or ""),
        manifest_name=manifest.get("name"),
        manifest_version=manifest.get("version"),
        description=manifest.get("description"),
        repository=workflow.get("repository"),
        commit_id=workflow.get("commitId"),
        script_file=main.get("path"),
        script_id=main_checksum,
        params=_params(spec.get("params")),
        start=parse_datetime(metadata.get("start")),
        launch_dir=metadata.get("launchDir"),
        output_dir=config.get("outputDir") or metadata.get("outputDir"),
        work_dir=config.get("workDir") or metadata.get("workDir"),
        nextflow_version=(metadata.get("nextflow") or {}).get("version")
        if isinstance(metadata.get("nextflow"), dict)
        else None,
        lineage_id=key,
    )


def _task_run(key: str, spec: dict[str, Any]) -> TaskRecord:
    inputs: list[FileRef] = []
    values: dict[str, Any] = {}
    for item in spec.get("input") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "path":
            _input_files(item.get("value"), inputs)
        elif item.get("name") is not None:
            values[str(item["name"])] = item.get("value")
    code, _ = _checksum({"checksum": spec.get("codeChecksum")})
    return TaskRecord(
        hash=key,
        name=str(spec.get("name") or key),
        session_id=spec.get("sessionId"),
        workflow_lid=lid_key(spec.get("workflowRun")),
        code_checksum=code,
        script=spec.get("script"),
        container=spec.get("container"),
        conda=spec.get("conda"),
        module_id=spec.get("moduleId"),
        inputs=inputs,
        values=values,
    )


def _file_output(key: str, spec: dict[str, Any]) -> FileRef:
    checksum, algorithm = _checksum(spec)
    source = lid_key(spec.get("source"))
    task = lid_key(spec.get("taskRun"))
    # a published copy names the work file it copies as its source (`<taskHash>/<rel>`)
    source_task = source.split("/", 1)[0] if source else None
    return FileRef(
        path=str(spec.get("path") or ""),
        checksum=checksum,
        algorithm=algorithm,
        size=spec.get("size") if isinstance(spec.get("size"), int) else None,
        task_hash=task or (source_task if is_full_hash(source_task) else None),
        work_path=source if source and "/" in source else None,
        published=task is None,
        labels=tuple(spec.get("labels") or ()),
    )


def read_store(root: Path) -> LineageStore:
    """Read every record under `root`; never raises (unreadable records are skipped with the reason)."""
    store = LineageStore(root=str(root))
    if not root.is_dir():
        store.skipped.append(Skipped(str(root), "no lineage store here"))
        return store
    for data in sorted(root.rglob(DATA_FILE)):
        key = data.parent.relative_to(root).as_posix()
        try:
            doc = json.loads(data.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            store.skipped.append(Skipped(str(data), f"unreadable lineage record ({type(exc).__name__}: {exc})"))
            continue
        kind, spec = _unwrap(doc)
        if spec is None:
            store.skipped.append(Skipped(str(data), "not a lineage record (no `kind`)"))
        elif kind not in KNOWN_KINDS:
            store.skipped.append(Skipped(str(data), f"lineage record of unknown kind {kind!r}"))
        else:
            _add(store, key, kind, spec, data)
    _read_history(root / ".history", store)
    return store


def _add(store: LineageStore, key: str, kind: str, spec: dict[str, Any], data: Path) -> None:
    try:
        if kind == "WorkflowRun":
            meta = _workflow_run(key, spec)
            if not meta.session_id or not meta.run_name:
                store.skipped.append(Skipped(str(data), "WorkflowRun without sessionId or name"))
                return
            store.runs[key] = meta
        elif kind == "TaskRun":
            store.tasks[key] = _task_run(key, spec)
        elif kind == "FileOutput":
            ref = _file_output(key, spec)
            if not ref.path:
                store.skipped.append(Skipped(str(data), "FileOutput without a path"))
            elif ref.published:
                store.published.setdefault(key.split("/", 1)[0], []).append(ref)
            else:
                ref.task_hash = ref.task_hash or task_hash_from_path(ref.path)
                store.work_files[key] = ref
        elif kind == "TaskOutput":
            task = lid_key(spec.get("taskRun")) or key.split("#", 1)[0]
            store.task_outputs.add(task)
        elif kind == "WorkflowOutput":
            run = lid_key(spec.get("workflowRun")) or key.split("#", 1)[0]
            store.run_ends[run] = parse_datetime(spec.get("createdAt"))
        # Workflow (a definition without a run) carries nothing a Run needs
    except (AttributeError, TypeError, ValueError) as exc:
        store.skipped.append(Skipped(str(data), f"malformed {kind} record ({exc})"))


def _read_history(folder: Path, store: LineageStore) -> None:
    """`.history/<runHash>`: fills in runs whose WorkflowRun record is missing, as far as it can."""
    if not folder.is_dir():
        return
    for entry in sorted(folder.iterdir()):
        try:
            lines = entry.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            cols = line.split("\t")
            if len(cols) < 4:
                continue
            run = lid_key(cols[3]) or entry.name
            if run not in store.runs and cols[1] and cols[2]:
                store.runs[run] = PipelineMeta(
                    session_id=cols[2], run_name=cols[1], start=parse_datetime(cols[0]), lineage_id=run
                )
