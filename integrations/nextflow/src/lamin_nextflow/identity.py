"""How Nextflow's things are named in lamin: the one place both the weblog and `ingest` take names from.

Both paths must name a pipeline, a process, a run and a task identically, or ingesting a run the weblog
already recorded would make duplicates. Decisions (interfaces.md, "Nextflow identity"):

- pipeline Transform: key `nextflow/<manifest name | repository owner/name | folder/script>`, version the
  commit id (the weblog and the lineage store both know it; the revision, e.g. `1.0.2`, is often missing
  from the store) or else the revision or manifest version;
- pipeline Run: reference `<session id>/<run name>`, reference_type `nextflow_run` (a `-resume` keeps the
  session id under a new run name: a new Run);
- process Transform: key `nextflow/<pipeline>/<process>`, kind `function`, the pipeline's version;
- task Run: reference the full task hash of its first attempt, reference_type `nextflow_task`; retries
  (each with its own hash and work dir) are attempts of the same Run, listed in its facets.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from lamin_core.lineage import Dataset, Job, ParentRun, RunInfo

from ._util import redact, redact_command, repository_slug, split_uri
from .records import FileRef, PipelineMeta

if TYPE_CHECKING:
    from .nfcore import NfCoreModule

NAMESPACE = "nextflow"
PIPELINE_RUN = "nextflow_run"
TASK_RUN = "nextflow_task"
PRODUCER = "https://github.com/laminlabs/lamin-core/tree/main/integrations/nextflow"


def pipeline_name(meta: PipelineMeta) -> str:
    name = meta.manifest_name or repository_slug(meta.repository)
    if not name and meta.script_file:  # a local script: `<folder>/<script>`, the same from the weblog and the store
        path = PurePosixPath(meta.script_file.split("://", 1)[-1])
        name = f"{path.parent.name}/{path.name}"
    # a Transform key is a clean relative path (interfaces: no empty or `..` segment, no control characters)
    parts = ["".join(c for c in part if c.isprintable()) for part in (name or "").split("/")]
    return "/".join(p for p in parts if p not in ("", ".", "..")) or "pipeline"


def pipeline_version(meta: PipelineMeta) -> str | None:
    return meta.commit_id or meta.revision or meta.manifest_version


def pipeline_job(meta: PipelineMeta) -> Job:
    facets = {
        k: v
        for k, v in {
            "repository": meta.repository,
            "commitId": meta.commit_id,
            "revision": meta.revision,
            "manifestVersion": meta.manifest_version,
            "scriptId": meta.script_id,
        }.items()
        if v
    }
    return Job(
        namespace=NAMESPACE,
        name=pipeline_name(meta),
        kind="pipeline",
        version=pipeline_version(meta),
        description=meta.description,
        facets={"nextflow": facets},
    )


def pipeline_run_id(session_id: str, run_name: str) -> str:
    return f"{session_id}/{run_name}"


def pipeline_run(meta: PipelineMeta, params: dict[str, Any] | None = None) -> RunInfo:
    details = {
        k: v
        for k, v in {
            "sessionId": meta.session_id,
            "runName": meta.run_name,
            "launchDir": meta.launch_dir,
            "workDir": meta.work_dir,
            "outputDir": meta.output_dir,
            "projectDir": meta.project_dir,
            "nextflowVersion": meta.nextflow_version,
            "commandLine": redact_command(meta.command_line),
            "profile": meta.profile,
            "resume": meta.resume,
            "lineageId": meta.lineage_id,
        }.items()
        if v is not None
    }
    return RunInfo(
        run_id=pipeline_run_id(meta.session_id, meta.run_name),
        reference_type=PIPELINE_RUN,
        params=redact(params if params is not None else meta.params) or None,
        facets={"nextflow_run": details},
        error_message=meta.error_message,
        name=meta.run_name,
    )


def process_job(pipeline: Job, process: str, module: "NfCoreModule | None" = None) -> Job:
    """A process's Job; for an nf-core module, its meta.yml description and `facets["nf_core"]` (the module's
    git SHA in modules.json, tools and licences). The version stays the pipeline's: the weblog, which cannot
    read modules.json, must name the same Transform version (see docs/nextflow.md, "nf-core")."""
    if module is None:
        return Job(namespace=NAMESPACE, name=f"{pipeline.name}/{process}", kind="function", version=pipeline.version)
    return Job(namespace=NAMESPACE, name=f"{pipeline.name}/{process}", kind="function", version=pipeline.version,
               description=module.description, facets={"nf_core": module.facets()})


def task_run(
    task_hash: str,
    name: str | None,
    pipeline: Job,
    pipeline_run_ref: str,
    *,
    attempt: int | None = None,
    facets: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    error_message: str | None = None,
    annotations: dict[str, Any] | None = None,
) -> RunInfo:
    return RunInfo(
        run_id=task_hash,
        reference_type=TASK_RUN,
        parent=ParentRun(run_id=pipeline_run_ref, job=pipeline, reference_type=PIPELINE_RUN),
        params=redact(params) or None,
        facets={"nextflow_task": facets or {}},
        error_message=error_message,
        attempt=attempt,
        name=name,
        annotations=annotations or None,  # meta, tag, samplesheet row (annotations.py)
    )


def dataset(ref: FileRef, storage_root: str | None = None) -> Dataset:
    """A Dataset for a file: registered in place; Nextflow's checksum used only if the file can't be read."""
    namespace, name = split_uri(ref.path)
    facets: dict[str, Any] = {}
    if ref.work_path:
        facets["publishedFrom"] = ref.work_path
    if ref.labels:
        facets["labels"] = list(ref.labels)
    return Dataset(
        namespace=namespace,
        name=name,
        facets={"nextflow": facets} if facets else {},
        hash=ref.checksum,
        hash_type=(ref.algorithm or "nextflow") if ref.checksum else None,
        size=ref.size,
        storage_root=storage_root,
    )


def storage_root_for(path: str, roots: list[str | None]) -> str | None:
    """The first of `roots` (output dir, work dir, launch dir) that holds `path`; for a bucket, the bucket."""
    for root in roots:
        if root and (path == root or path.startswith(root.rstrip("/") + "/")):
            return root.rstrip("/")
    if "://" in path:
        scheme, rest = path.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}"
    return None
