"""OpenLineage RunEvent JSON (spec 2-0-2) <-> `LineageEvent`, in pure Python.

`from_openlineage(d)` reads the dict of a RunEvent (what `json.loads` gives for a body posted to
`/api/v1/lineage`, or `Serde.to_dict(event)` of openlineage-python) and `to_openlineage(e)` writes one.
The OpenLineage server, the client transport, the exporter and the adapters that speak OpenLineage
(Snakemake remote mode, Nextflow) all go through these two functions, so there is one mapping:

| OpenLineage                                     | LineageEvent                                         |
|-------------------------------------------------|------------------------------------------------------|
| `job.namespace`, `job.name`                     | `Job.namespace`, `Job.name`                          |
| job facet `sourceCode.sourceCode`               | `Job.source_code`                                    |
| job facet `documentation.description`           | `Job.description`                                    |
| job facet `jobType.jobType` (DAG, TASK, ...)    | `Job.kind` (see `KIND_OF_JOB_TYPE`)                  |
| every job facet                                 | `Job.facets`                                         |
| `run.runId`                                     | `RunInfo.run_id` (`reference_type="openlineage"`)    |
| run facet `parent`                              | `RunInfo.parent`                                     |
| run facet `errorMessage` (message + stackTrace) | `RunInfo.error_message`                              |
| every run facet                                 | `RunInfo.facets`                                     |
| `inputs[]`, `outputs[]` (namespace, name)       | `Dataset`s, with their facets (`schema` included);   |
|                                                 | `inputFacets`/`outputFacets` kept under those keys   |

What OpenLineage has no field for travels in three custom facets, so that exporting a run and ingesting
the event again yields the same records: `lamin_run` (the engine's own run id and its reference type, params,
attempt, name, the parent's reference), `lamin_job` (kind, version) and `lamin_dataset` (kind `log` or
`benchmark`, a known hash and size, the storage root). They are read back and never kept among the facets;
facets that `to_openlineage` derives from structured fields are listed in `lamin_run.derived` /
`lamin_job.derived` and dropped again on the way in, for the same reason.

OpenLineage wants UUID run ids; a run recorded under another reference (a Snakemake job id, a Nextflow task
hash) is exported with a name-based UUID (`openlineage_run_id`) and its own reference in `lamin_run`.

Malformed input raises `OpenLineageEventError` (a `ValueError`) naming the dotted path of the field at fault.
Full JSON-schema validation lives in `lamin_openlineage`; this module checks what it reads.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Mapping

from .events import EVENT_TYPES, Dataset, Job, LineageEvent, ParentRun, RunInfo
from .openlineage_facets import ENGINE as OPENLINEAGE_ENGINE, annotate_mode, dataset_annotations

SPEC_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
RUN_EVENT_SCHEMA_URL = SPEC_URL + "#/$defs/RunEvent"
PRODUCER = "urn:lamin-core"  # a URI, as the spec asks; what `lamin-core` stamps on events and facets it writes
LAMIN_FACET_SCHEMA_URL = "urn:lamin-core:facets:1-0-0"  # our custom facets' schema (documented in docs/openlineage.md)
OPENLINEAGE_REFERENCE_TYPE = "openlineage"
NAMESPACELESS = "lamin"  # the OpenLineage namespace of a job lamin-core keyed without one (OpenLineage requires one)

# name-based UUIDs for runs whose own id is not an OpenLineage UUID (uuid5 under this namespace)
_RUN_ID_NAMESPACE = uuid.UUID("5b7c63a2-4a43-4f0e-9d51-3c3e8e0b9a11")

_FACET_SCHEMAS = {
    "parent": "https://openlineage.io/spec/facets/1-1-0/ParentRunFacet.json#/$defs/ParentRunFacet",
    "errorMessage": "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
    "sourceCode": "https://openlineage.io/spec/facets/1-0-1/SourceCodeJobFacet.json#/$defs/SourceCodeJobFacet",
    "documentation": "https://openlineage.io/spec/facets/1-0-1/DocumentationJobFacet.json#/$defs/DocumentationJobFacet",
    "jobType": "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
}

# jobType.jobType (integration-specific: Airflow DAG/TASK, dbt MODEL, Spark JOB/SQL ...) -> Transform.kind
KIND_OF_JOB_TYPE: dict[str, str] = {
    "DAG": "pipeline",
    "FLOW": "pipeline",
    "PIPELINE": "pipeline",
    "WORKFLOW": "pipeline",
    "JOB": "pipeline",
    "TASK": "function",
    "QUERY": "function",
    "COMMAND": "function",
    "MODEL": "function",
    "SNAPSHOT": "function",
    "SEED": "function",
    "TEST": "function",
    "FUNCTION": "function",
    "SCRIPT": "script",
    "NOTEBOOK": "notebook",
}
# Transform.kind -> jobType.jobType for export (each maps back to the same kind above)
JOB_TYPE_OF_KIND: dict[str, str] = {"pipeline": "JOB", "function": "TASK", "script": "SCRIPT", "notebook": "NOTEBOOK"}


class OpenLineageEventError(ValueError):
    """A RunEvent that cannot be read; `field` is the dotted path at fault (`run.runId`, `inputs.0.name`)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# ---------------------------------------------------------------------------------------------- reading


def _expect(value: Any, kind: type | tuple[type, ...], path: str, what: str) -> Any:
    # bool is an int subclass: an attempt of `true` is a producer bug, not attempt 1
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise OpenLineageEventError(f"{path} must be {what}, got {type(value).__name__}", path)
    return value


def _str(d: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str | None:
    if key not in d or d[key] is None:
        if required:
            raise OpenLineageEventError(f"{path}.{key} is required".lstrip("."), f"{path}.{key}".lstrip("."))
        return None
    value = _expect(d[key], str, f"{path}.{key}".lstrip("."), "a string")
    if required and not value:
        raise OpenLineageEventError(f"{path}.{key} must not be empty".lstrip("."), f"{path}.{key}".lstrip("."))
    return value


def _obj(d: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    value = d.get(key)
    if value is None:
        return {}
    return _expect(value, dict, f"{path}.{key}".lstrip("."), "an object")


def parse_event_time(value: Any, path: str = "eventTime") -> datetime:
    """ISO 8601 to an aware datetime; a producer's naive timestamp is taken as UTC."""
    _expect(value, str, path, "an ISO 8601 date-time string")
    text = value.strip()
    if "t" not in text.lower():  # a bare date is not a date-time (the client checks the same)
        raise OpenLineageEventError(f"{path} must be a date-time with a time part, got {value!r}", path)
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" else text)
    except ValueError:
        raise OpenLineageEventError(f"{path} is not an ISO 8601 date-time: {value!r}", path) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def _kind_of(job_facets: Mapping[str, Any], lamin_job: Mapping[str, Any]) -> str:
    if isinstance(lamin_job.get("kind"), str):
        return lamin_job["kind"]
    job_type = job_facets.get("jobType")
    if isinstance(job_type, dict) and isinstance(job_type.get("jobType"), str):
        return KIND_OF_JOB_TYPE.get(job_type["jobType"].upper(), "pipeline")
    return "pipeline"


def _kept(facets: Mapping[str, Any], lamin: Mapping[str, Any], custom_name: str) -> dict[str, Any]:
    """Facets as the producer sent them, minus our custom one and the ones we derived ourselves, plus the
    entries lamin-core keeps beside facets that are not OpenLineage facets (carried in `lamin_*.raw`)."""
    derived = lamin.get("derived") or ()
    kept = {k: v for k, v in facets.items() if k != custom_name and k not in derived}
    raw = lamin.get("raw")
    if isinstance(raw, dict):
        kept.update(raw)
    return kept


def _split_facets(facets: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(OpenLineage facets, everything else): only objects with `_producer` and `_schemaURL` are facets."""
    ol, raw = {}, {}
    for k, v in facets.items():
        if isinstance(v, dict) and "_producer" in v and "_schemaURL" in v and not k.startswith("lamin_"):
            ol[k] = v
        else:
            raw[k] = v
    return ol, raw


def _job(d: Mapping[str, Any], path: str) -> Job:
    namespace = _str(d, "namespace", path)
    name = _str(d, "name", path)
    facets = _obj(d, "facets", path)
    lamin_job = _obj(facets, "lamin_job", f"{path}.facets")
    source_code = None
    if "sourceCode" in facets:
        sc = _expect(facets["sourceCode"], dict, f"{path}.facets.sourceCode", "an object")
        source_code = _str(sc, "sourceCode", f"{path}.facets.sourceCode", required=False)
    description = None
    if "documentation" in facets:
        doc = _expect(facets["documentation"], dict, f"{path}.facets.documentation", "an object")
        description = _str(doc, "description", f"{path}.facets.documentation", required=False)
    version = lamin_job.get("version")
    if version is not None:
        _expect(version, str, f"{path}.facets.lamin_job.version", "a string")
    if lamin_job.get("namespaceless") is True:
        namespace = ""  # a lamin-core transform keyed without a namespace (exported under "lamin")
    return Job(
        namespace=namespace or "",
        name=name or "",
        kind=_kind_of(facets, lamin_job),
        source_code=source_code,
        version=version,
        description=description,
        facets=_kept(facets, lamin_job, "lamin_job"),
    )


def _parent(facets: Mapping[str, Any], lamin_run: Mapping[str, Any]) -> ParentRun | None:
    lamin_parent = lamin_run.get("parent")
    if lamin_parent is not None:
        # exported by lamin-core: the parent's own reference, and whether its job was known at all
        p = _expect(lamin_parent, dict, "run.facets.lamin_run.parent", "an object")
        job = None
        if p.get("job") is not None:
            pj = _expect(p["job"], dict, "run.facets.lamin_run.parent.job", "an object")
            jpath = "run.facets.lamin_run.parent.job"
            job = Job(
                namespace=_str(pj, "namespace", jpath) or "",
                name=_str(pj, "name", jpath) or "",
                kind=_str(pj, "kind", jpath, required=False) or "pipeline",
            )
        return ParentRun(
            run_id=_str(p, "reference", "run.facets.lamin_run.parent") or "",
            job=job,
            reference_type=_str(p, "referenceType", "run.facets.lamin_run.parent", required=False),
        )
    if "parent" not in facets:
        return None
    parent = _expect(facets["parent"], dict, "run.facets.parent", "an object")
    prun = _expect(parent.get("run"), dict, "run.facets.parent.run", "an object")
    pjob = parent.get("job")
    job = None
    if pjob is not None:
        _expect(pjob, dict, "run.facets.parent.job", "an object")
        job = Job(
            namespace=_str(pjob, "namespace", "run.facets.parent.job") or "",
            name=_str(pjob, "name", "run.facets.parent.job") or "",
        )
    return ParentRun(
        run_id=_str(prun, "runId", "run.facets.parent.run") or "",
        job=job,
        reference_type=OPENLINEAGE_REFERENCE_TYPE,
    )


def _error_message(facets: Mapping[str, Any]) -> str | None:
    if "errorMessage" not in facets:
        return None
    err = _expect(facets["errorMessage"], dict, "run.facets.errorMessage", "an object")
    message = _str(err, "message", "run.facets.errorMessage", required=False) or ""
    trace = _str(err, "stackTrace", "run.facets.errorMessage", required=False)
    return f"{message}\n\n{trace}" if trace else message


def _run(d: Mapping[str, Any]) -> RunInfo:
    run_id = _str(d, "runId", "run")
    facets = _obj(d, "facets", "run")
    lamin_run = _obj(facets, "lamin_run", "run.facets")
    params = lamin_run.get("params")
    if params is not None:
        _expect(params, dict, "run.facets.lamin_run.params", "an object")
    attempt = lamin_run.get("attempt")
    if attempt is not None:
        _expect(attempt, int, "run.facets.lamin_run.attempt", "an integer")
    reference = _str(lamin_run, "reference", "run.facets.lamin_run", required=False)
    reference_type = _str(lamin_run, "referenceType", "run.facets.lamin_run", required=False)
    return RunInfo(
        run_id=reference or run_id or "",
        reference_type=reference_type or OPENLINEAGE_REFERENCE_TYPE,
        parent=_parent(facets, lamin_run),
        params=params,
        facets=_kept(facets, lamin_run, "lamin_run"),
        error_message=_error_message(facets),
        attempt=attempt,
        name=_str(lamin_run, "name", "run.facets.lamin_run", required=False),
    )


def _dataset(d: Any, path: str, extra_key: str) -> Dataset:
    _expect(d, dict, path, "an object")
    facets = dict(_obj(d, "facets", path))
    extra = _obj(d, extra_key, path)  # inputFacets / outputFacets
    if extra:
        facets[extra_key] = extra
    lamin = _obj(facets, "lamin_dataset", f"{path}.facets")
    facets = _kept(facets, lamin, "lamin_dataset")
    size = lamin.get("size")
    if size is not None:
        _expect(size, int, f"{path}.facets.lamin_dataset.size", "an integer")
    lpath = f"{path}.facets.lamin_dataset"
    annotations, labels, columns = dataset_annotations(facets)  # schema, tags, metrics (openlineage_facets.py)
    return Dataset(
        namespace=_str(d, "namespace", path) or "",
        name=_str(d, "name", path) or "",
        facets=facets,
        kind=_str(lamin, "kind", lpath, required=False),
        hash=_str(lamin, "hash", lpath, required=False),
        hash_type=_str(lamin, "hashType", lpath, required=False),
        size=size,
        storage_root=_str(lamin, "storageRoot", lpath, required=False),
        annotations=annotations,
        labels=labels,
        columns=columns,
    )


def _datasets(d: Mapping[str, Any], key: str, extra_key: str) -> tuple[Dataset, ...]:
    items = d.get(key)
    if items is None:
        return ()
    _expect(items, list, key, "an array")
    return tuple(_dataset(item, f"{key}.{i}", extra_key) for i, item in enumerate(items))


def from_openlineage(d: Mapping[str, Any]) -> LineageEvent:
    """Read one OpenLineage RunEvent dict; raises `OpenLineageEventError` naming the bad field.

    A missing `eventType` is `OTHER`, as the spec reads (metadata about a run, no state change).
    """
    _expect(d, dict, "", "a JSON object (one RunEvent)")
    event_type = d.get("eventType") or "OTHER"
    if event_type not in EVENT_TYPES:
        raise OpenLineageEventError(
            f"eventType must be one of {', '.join(EVENT_TYPES)}, got {event_type!r}", "eventType"
        )
    if "eventTime" not in d:
        raise OpenLineageEventError("eventTime is required", "eventTime")
    run = _expect(d.get("run"), dict, "run", "an object")
    job = _expect(d.get("job"), dict, "job", "an object")
    run_info = _run(run)
    lamin_run = (run.get("facets") or {}).get("lamin_run") or {}
    producer = lamin_run.get("producer") if isinstance(lamin_run.get("producer"), str) else None
    mode = annotate_mode(lamin_run)
    return LineageEvent(
        event_type=event_type,  # type: ignore[arg-type]  # checked against EVENT_TYPES above
        event_time=parse_event_time(d["eventTime"]),
        job=_job(job, "job"),
        run=run_info,
        inputs=_datasets(d, "inputs", "inputFacets"),
        outputs=_datasets(d, "outputs", "outputFacets"),
        producer=producer if producer is not None else (d.get("producer") if isinstance(d.get("producer"), str) else ""),
        annotate=mode,  # type: ignore[arg-type]
        engine=OPENLINEAGE_ENGINE if mode == "auto" else None,  # only `auto` names the engine (its feature type)
    )


# ---------------------------------------------------------------------------------------------- writing


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def openlineage_run_id(run_id: str, reference_type: str) -> str:
    """The runId under which a run is exported: its own id if it is an OpenLineage UUID, else a stable uuid5."""
    if reference_type == OPENLINEAGE_REFERENCE_TYPE and is_uuid(run_id):
        return run_id
    return str(uuid.uuid5(_RUN_ID_NAMESPACE, f"{reference_type}:{run_id}"))


def _facet(name: str, producer: str, /, **fields: Any) -> dict[str, Any]:
    return {"_producer": producer, "_schemaURL": _FACET_SCHEMAS.get(name, LAMIN_FACET_SCHEMA_URL), **fields}


def _is_openlineage_run(run: RunInfo) -> bool:
    return run.reference_type == OPENLINEAGE_REFERENCE_TYPE and is_uuid(run.run_id)


def _write_job(job: Job, producer: str) -> dict[str, Any]:
    facets, raw = _split_facets(job.facets)
    derived: list[str] = []
    if job.source_code is not None and "sourceCode" not in facets:
        facets["sourceCode"] = _facet("sourceCode", producer, language="unknown", sourceCode=job.source_code)
        derived.append("sourceCode")
    if job.description is not None and "documentation" not in facets:
        facets["documentation"] = _facet("documentation", producer, description=job.description)
        derived.append("documentation")
    if "jobType" not in facets:
        facets["jobType"] = _facet(
            "jobType", producer, processingType="BATCH", integration="LAMIN", jobType=JOB_TYPE_OF_KIND.get(job.kind, "JOB")
        )
        derived.append("jobType")
    lamin_job: dict[str, Any] = {"kind": job.kind, "derived": derived}
    if job.version is not None:
        lamin_job["version"] = job.version
    if not job.namespace:  # OpenLineage requires a namespace; lamin-core keys need not have one
        lamin_job["namespaceless"] = True
    if raw:
        lamin_job["raw"] = raw
    facets["lamin_job"] = _facet("lamin_job", producer, **lamin_job)
    return {"namespace": exported_namespace(job.namespace), "name": job.name, "facets": facets}


def exported_namespace(namespace: str) -> str:
    """The namespace a job is exported under: its own, or `NAMESPACELESS` when it has none."""
    return namespace or NAMESPACELESS


def _write_run(run: RunInfo, producer: str, event_producer: str) -> dict[str, Any]:
    facets, raw = _split_facets(run.facets)
    derived: list[str] = []
    lamin_run: dict[str, Any] = {"producer": event_producer}
    if not _is_openlineage_run(run):
        lamin_run.update(reference=run.run_id, referenceType=run.reference_type)
    if run.parent is not None:
        p = run.parent
        p_type = p.reference_type or run.reference_type
        lamin_parent: dict[str, Any] = {"reference": p.run_id}
        if p.reference_type is not None:
            lamin_parent["referenceType"] = p.reference_type
        if p.job is not None:
            lamin_parent["job"] = {"namespace": p.job.namespace, "name": p.job.name, "kind": p.job.kind}
        lamin_run["parent"] = lamin_parent
        if "parent" not in facets:
            # the spec requires the parent's job; when we don't know it, name it after the parent's reference
            pjob = (
                {"namespace": p.job.namespace, "name": p.job.name}
                if p.job is not None
                else {"namespace": "lamin", "name": f"{p_type}:{p.run_id}"}
            )
            facets["parent"] = _facet("parent", producer, run={"runId": openlineage_run_id(p.run_id, p_type)}, job=pjob)
            derived.append("parent")
    if run.error_message is not None and "errorMessage" not in facets:
        facets["errorMessage"] = _facet("errorMessage", producer, message=run.error_message, programmingLanguage="python")
        derived.append("errorMessage")
    if run.params is not None:
        lamin_run["params"] = dict(run.params)
    if run.attempt is not None:
        lamin_run["attempt"] = run.attempt
    if run.name is not None:
        lamin_run["name"] = run.name
    lamin_run["derived"] = derived
    if raw:
        lamin_run["raw"] = raw
    facets["lamin_run"] = _facet("lamin_run", producer, **lamin_run)
    return {"runId": openlineage_run_id(run.run_id, run.reference_type), "facets": facets}


def _write_dataset(ds: Dataset, producer: str, extra_key: str) -> dict[str, Any]:
    facets = dict(ds.facets)
    extra = facets.pop("inputFacets", None), facets.pop("outputFacets", None)
    facets, raw = _split_facets(facets)
    out: dict[str, Any] = {"namespace": ds.namespace, "name": ds.name}
    lamin = {
        k: v
        for k, v in (
            ("kind", ds.kind),
            ("hash", ds.hash),
            ("hashType", ds.hash_type),
            ("size", ds.size),
            ("storageRoot", ds.storage_root),
        )
        if v is not None
    }
    if raw:
        lamin["raw"] = raw
    if lamin:
        facets["lamin_dataset"] = _facet("lamin_dataset", producer, **lamin)
    out["facets"] = facets
    kept = extra[0] if extra_key == "inputFacets" else extra[1]
    if kept:
        out[extra_key] = kept
    return out


def to_openlineage(e: LineageEvent, *, producer: str | None = None) -> dict[str, Any]:
    """One OpenLineage 2-0-2 RunEvent dict (JSON-ready) for `e`; `from_openlineage` reads it back to `e`."""
    event_producer = e.producer
    producer = producer or e.producer or PRODUCER
    event_time = e.event_time if e.event_time.tzinfo is not None else e.event_time.replace(tzinfo=timezone.utc)
    return {
        "eventType": e.event_type,
        "eventTime": event_time.isoformat(),
        "producer": producer,
        "schemaURL": RUN_EVENT_SCHEMA_URL,
        "run": _write_run(e.run, producer, event_producer),
        "job": _write_job(e.job, producer),
        "inputs": [_write_dataset(ds, producer, "inputFacets") for ds in e.inputs],
        "outputs": [_write_dataset(ds, producer, "outputFacets") for ds in e.outputs],
    }


# ---------------------------------------------------------------------------------------------- dataset URIs


def dataset_uri(namespace: str, name: str) -> str:
    """The URI of an OpenLineage dataset: `file` + `/a/b` -> `file:///a/b`; `s3://bkt` + `k/x` -> `s3://bkt/k/x`."""
    if namespace == "file" or namespace.startswith("file://"):
        host = namespace[len("file://") :] if namespace.startswith("file://") else ""
        return f"file://{host}/{name.lstrip('/')}"
    return f"{namespace.rstrip('/')}/{name.lstrip('/')}"


def dataset_from_uri(uri: str) -> tuple[str, str]:
    """The inverse of `dataset_uri` for what lamin-core stores: a local path or `scheme://authority/path` URI."""
    if uri.startswith("/"):
        return "file", uri
    if uri.startswith("file://"):
        rest = uri[len("file://") :]
        host, _, path = rest.partition("/")
        return ("file" if host in ("", "localhost") else f"file://{host}"), "/" + path
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise ValueError(f"not an absolute path or URI: {uri!r}")
    authority, _, path = rest.partition("/")
    return f"{scheme}://{authority}", path
