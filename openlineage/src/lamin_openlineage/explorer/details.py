"""The artifact, run and transform pages' data: fields, versions, annotations, related records, texts, source.

Blocking, called in the server's threadpool. Files are read with `cache(..., _track=False)`: the server looking
at an artifact must not make it an input of whatever run the server process has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .data import LIST_LIMIT, TEXT_CHARS, NotFound
from .graph import RUN_ATTACHMENT_KINDS, STATUS_COLORS, engine_color, engine_of

PREVIEW_ROWS = 50
PREVIEW_MAX_REMOTE_BYTES = 50 * 1024 * 1024  # a remote file is downloaded to preview it only when small


def _get(model: Any, uid: str) -> Any:
    record = model.filter(uid=uid).all_branches().first()
    if record is None:
        raise NotFound(f"no {model.__name__.lower()} with uid {uid!r}")
    return record


def human_size(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def artifact_brief(a: Any) -> dict[str, Any]:
    return {"uid": a.uid, "title": a.key or a.description or a.uid, "kind": a.kind, "size": human_size(a.size),
            "version": a.version, "is_latest": a.is_latest, "created_at": a.created_at}


def run_brief(r: Any) -> dict[str, Any]:
    t = r.transform
    engine = engine_of(t.key, t.uid, t.facets) if t else "?"
    return {"uid": r.uid, "title": (t.key or t.uid) if t else r.uid, "name": r.name, "status": r.status,
            "engine": engine, "engine_color": engine_color(engine), "status_color": STATUS_COLORS.get(r.status or "", "#eee"),
            "started_at": r.started_at, "finished_at": r.finished_at}


def _labels(record: Any) -> list[dict[str, Any]]:
    from lamin_core.models.annotations import LABEL_LINKS

    out = []
    for (owner, accessor), link in LABEL_LINKS.items():
        if owner != type(record).__name__:
            continue
        labels = list(getattr(record, accessor)._labels()[:LIST_LIMIT])
        if labels:
            name_field = getattr(link.label, "_name_field", "name")
            out.append({"accessor": accessor, "registry": link.label.__name__,
                        "names": [getattr(lb, name_field, None) or lb.uid for lb in labels]})
    return out


def _features(record: Any) -> dict[str, Any]:
    try:
        return dict(record.features.get_values())
    except Exception as e:  # a page must show what it can; say what failed
        return {"(features could not be read)": str(e)}


def artifact(uid: str) -> dict[str, Any]:
    from lamin_core.artifacts.access import artifact_uri
    from lamin_core.models import Artifact

    a = _get(Artifact, uid)
    versions = [artifact_brief(v) for v in a.versions.order_by("-id")[:LIST_LIMIT]] if a.key else []
    run = a.run
    readers = list(a.input_of_runs[:LIST_LIMIT]) if hasattr(a, "input_of_runs") else []
    return {
        "a": a, "brief": artifact_brief(a), "uri": artifact_uri(a), "storage": a.storage.root, "size": human_size(a.size),
        "versions": versions, "features": _features(a), "labels": _labels(a),
        "run": run_brief(run) if run is not None else None,
        "readers": [run_brief(r) for r in readers],
        "downloadable": a.n_files is None,
        "schema": a.schema.name if a.schema is not None and hasattr(a.schema, "name") else None,
    }


def preview(uid: str) -> dict[str, Any]:
    """The first rows of a table (parquet, csv, tsv) or of an AnnData's obs; {} when there is nothing to show."""
    from lamin_core.artifacts.access import artifact_uri, cache
    from lamin_core.models import Artifact
    from lamin_core.storage.paths import is_local

    a = _get(Artifact, uid)
    suffix = (a.suffix or "").lower()
    if suffix not in (".parquet", ".csv", ".tsv", ".h5ad") or a.n_files is not None:
        return {}
    if not is_local(artifact_uri(a)) and (a.size or 0) > PREVIEW_MAX_REMOTE_BYTES:
        return {"note": f"not previewed: a remote file of {human_size(a.size)}; download it instead"}
    try:
        path = cache(a, _track=False)
        df, what = _read_head(path, suffix)
    except Exception as e:  # missing file, unreadable format: the page says so instead of failing
        return {"note": f"no preview: {type(e).__name__}: {e}"[:500]}
    return {"what": what, "columns": [str(c) for c in df.columns], "index": [str(i) for i in df.index],
            "rows": [[_cell(v) for v in row] for row in df.itertuples(index=False, name=None)]}


def _read_head(path: Path, suffix: str) -> tuple[Any, str]:
    import pandas as pd

    if suffix == ".parquet":
        import pyarrow.parquet as pq

        batch = next(pq.ParquetFile(path).iter_batches(batch_size=PREVIEW_ROWS), None)  # reads one row group at most
        return (batch.to_pandas() if batch is not None else pd.DataFrame()), f"first {PREVIEW_ROWS} rows"
    if suffix in (".csv", ".tsv"):
        return pd.read_csv(path, nrows=PREVIEW_ROWS, sep="\t" if suffix == ".tsv" else ","), f"first {PREVIEW_ROWS} rows"
    import anndata as ad

    adata = ad.read_h5ad(path, backed="r")  # obs only: X stays on disk
    try:
        return adata.obs.head(PREVIEW_ROWS), f"obs of an AnnData ({adata.n_obs} × {adata.n_vars}), first {PREVIEW_ROWS} rows"
    finally:
        adata.file.close()


def _cell(v: Any) -> str:
    text = str(v)
    return text if len(text) <= 200 else text[:199] + "…"


def download_target(uid: str) -> tuple[str, str, int | None]:
    """(uri, file name, size) of an artifact's data, for the download route; folders cannot be downloaded."""
    from lamin_core.artifacts.access import artifact_uri
    from lamin_core.models import Artifact

    a = _get(Artifact, uid)
    if a.n_files is not None:
        raise ValueError(f"artifact {uid} is a folder of {a.n_files} files: load it with ln.Artifact.get({uid!r}).cache()")
    name = Path(a.key).name if a.key else f"{a.uid}{a.suffix or ''}"
    return artifact_uri(a), name, a.size


def _text_of(a: Any) -> str | None:
    from lamin_core.artifacts.access import cache

    if a is None:
        return None
    try:
        text = cache(a, _track=False).read_text(errors="replace")
    except Exception as e:
        return f"(not readable: {e})"
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS // 2] + "\n...\n" + text[-TEXT_CHARS // 2 :]


def run(uid: str) -> dict[str, Any]:
    from lamin_core.models import Artifact, Run
    from lamin_core.tracking.redact import redact

    r = _get(Run, uid)
    outputs = Artifact.objects().all_branches().filter(run=r).exclude(kind__in=list(RUN_ATTACHMENT_KINDS))
    inputs = Artifact.objects().all_branches().filter(input_of_runs=r)
    logs = Artifact.objects().all_branches().filter(run=r, kind__in=["log", "benchmark"])
    children = Run.objects().all_branches().filter(initiated_by_run=r).order_by("id")
    return {
        "r": r, "brief": run_brief(r), "transform": r.transform,
        "params": redact(r.params or {}), "facets": redact({k: v for k, v in (r.facets or {}).items()}),
        "inputs": [artifact_brief(x) for x in inputs[:LIST_LIMIT]], "n_inputs": inputs.count(),
        "outputs": [artifact_brief(x) for x in outputs[:LIST_LIMIT]], "n_outputs": outputs.count(),
        "logs": [artifact_brief(x) for x in logs[:LIST_LIMIT]],
        "children": [run_brief(x) for x in children[:LIST_LIMIT]], "n_children": children.count(),
        "parent": run_brief(r.initiated_by_run) if r.initiated_by_run is not None else None,
        "report": _text_of(r.report), "environment": _text_of(r.environment),
        "report_uid": r.report.uid if r.report is not None else None,
    }


def transform(uid: str) -> dict[str, Any]:
    from lamin_core.models import Run, Transform

    t = _get(Transform, uid)
    versions = list(Transform.objects().all_branches().filter(key=t.key).order_by("-id")[:LIST_LIMIT]) if t.key else [t]
    runs = Run.objects().all_branches().filter(transform=t).order_by("-id")
    engine = engine_of(t.key, t.uid, t.facets)
    return {
        "t": t, "engine_name": engine, "engine_color": engine_color(engine),
        "versions": [{"uid": v.uid, "version": v.version, "created_at": v.created_at, "is_latest": v.is_latest} for v in versions],
        "source_html": highlight(t.source_code, t.key or "") if t.source_code else None,
        "run_rows": [run_brief(x) for x in runs[:LIST_LIMIT]], "n_runs": runs.count(),
    }


def highlight(code: str, filename: str) -> str:
    """Source as highlighted HTML (Pygments, server-side: no script needed), the lexer picked by file name."""
    from pygments import highlight as pyg
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer, get_lexer_for_filename, guess_lexer
    from pygments.util import ClassNotFound

    name = Path(filename.split(":")[0]).name
    try:
        if name == "Snakefile" or name.endswith(".smk"):
            lexer: Any = PythonLexer()  # Snakemake's grammar is Python's with rule blocks
        elif name.endswith(".nf"):
            from pygments.lexers import GroovyLexer  # Nextflow's DSL is Groovy

            lexer = GroovyLexer()
        else:
            lexer = get_lexer_for_filename(name)
    except ClassNotFound:
        try:
            lexer = guess_lexer(code[:5000])
        except ClassNotFound:
            lexer = PythonLexer()
    return pyg(code, lexer, HtmlFormatter(cssclass="src", linenos="table"))


def pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    return str(HtmlFormatter(cssclass="src", style="friendly").get_style_defs(".src"))
