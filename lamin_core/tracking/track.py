"""`ln.track()` and `ln.finish()`: a script's or notebook's execution as a Run of its Transform.

`track()` finds the running file, makes or reuses its Transform (the source's hash decides the version:
the same code is the same Transform, changed code a new version of the key), and writes a new Run in one
transaction with its parameters, host, Python, command line and environment. The run becomes the
process's current run: artifacts saved afterwards (in any thread) are its outputs, artifacts loaded are
its inputs, and `@ln.flow` calls nest under it.

A tracked run never stays `started` forever once the process is gone:
- an uncaught exception (sys.excepthook) leaves it `errored`, with the traceback as its report
  (`aborted` for Ctrl-C);
- an exit without `ln.finish()` (atexit) leaves it `aborted`;
- SIGTERM and SIGHUP become a `SystemExit` (only when nobody else handles them), so the above applies.
A SIGKILL or `os._exit()` cannot be seen by any process: such a run stays `started`.

The run is written directly, not through `record()`: it belongs to this process alone (no redelivery,
no reordering, no other writer), and one transaction with everything in it is the fastest way. Its
reference is its own uid, so that `record()` events (flows, adapters) can name it as their parent.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .. import ids
from .. import log
from . import context

if TYPE_CHECKING:
    from ..db.dbapi import Rows
    from ..lineage.transforms import TransformRow
    from ..models import Artifact, Run, Transform
    from .run_handle import TrackedRun
    from .source import Source

CLOSE_SIGNALS = ("SIGTERM", "SIGHUP")
_EVENT_OF_STATUS = {"completed": "COMPLETE", "errored": "FAIL", "aborted": "ABORT"}  # OpenLineage eventType
MAX_ATTEMPTS = 8
RUN_UID_LENGTH = 20  # models.Run._uid_length
T = TypeVar("T")


class _Tracked:
    __slots__ = ("run", "source", "pid", "started", "instance_uid", "done")

    def __init__(self, run: "TrackedRun", source: "Source | None", pid: int, started: float, instance_uid: str) -> None:
        self.run = run
        self.source = source
        self.pid = pid
        self.started = started
        self.instance_uid = instance_uid  # the run's instance: after `ln.connect(other)` the run must not be closed there
        self.done = False


_state: dict[str, Any] = {"tracked": None, "hooks": False}
_close_lock = threading.Lock()


def track(
    transform: "Transform | str | None" = None,
    *,
    params: dict[str, Any] | None = None,
    plan: "str | os.PathLike[str] | Artifact | None" = None,
    path: str | os.PathLike[str] | None = None,
) -> "Run":
    """Track the running script or notebook (or `transform`) as a new Run; returns it.

    - `transform`: a Transform (saved or not), or the uid or key of a saved one, instead of the file;
    - `params`: the run's parameters (JSON values; secret-looking names are redacted); those named like
      existing features are also the run's feature values (`ln.Run.filter(learning_rate=0.01)`);
    - `plan`: a plan linked as `run.plan`: a file (saved as an artifact with `kind="plan"` at key
      `.plans/<file name>`), the key of a plan saved before (`lamin save .cursor/plans/x.md` ->
      `plan=".plans/x.md"`), or a saved Artifact;
    - `path`: the script or notebook, where it can't be detected (an interactive console).

    The rows are written on plain DB-API statements (`db.dbapi`): a script that only tracks itself never
    imports SQLAlchemy. What needs the ORM (a plan, params that name features, a Transform object, live
    OpenLineage forwarding) runs the same statements in an ORM transaction instead.
    """
    from ..db import dbapi
    from ..db import engine as db
    from ..lineage.transforms import upsert_transform_row
    from ..artifacts.text import text_artifact_id
    from ..storage.hashing import hash_bytes
    from .environment import environment_text, host, run_facets
    from .params import annotation_values, clean_params
    from .run_handle import TrackedRun
    from .source import running_path, source_of

    previous = _state["tracked"]
    if previous is not None and not previous.done and previous.pid == os.getpid():
        _close(previous, "aborted", reason="superseded by a new ln.track() in the same process")
    source = None
    if transform is None:
        file = Path(path) if path is not None else running_path()
        if file is None:
            raise ValueError(
                "ln.track() could not find the running script or notebook (an interactive console?): "
                "pass ln.track(path='analysis.py') or ln.track(transform=ln.Transform(key=...))"
            )
        source = source_of(file)
    elif not isinstance(transform, str) and not hasattr(transform, "runs"):
        raise TypeError(f"transform must be a Transform, or the uid or key of one, not {type(transform).__name__}")
    env_text = environment_text()  # disk and metadata reads happen before the write lock
    values = annotation_values(params)
    if plan is not None or (transform is not None and not isinstance(transform, str)) or _forwarding() or (
        values and _names_features(list(values))
    ):
        db.engine()  # from here on, dbapi.write() is a transaction of the ORM's session
    plan_artifact = _plan_artifact(plan) if plan is not None else None
    facets = run_facets(sys.argv)
    clean = clean_params(params)
    now = datetime.now(timezone.utc)

    # what concurrent first runs of one script (a job array) race on: its key, the environment's content
    names = [f"hash:{hash_bytes(env_text.encode())}"]
    if source is not None:
        names.append(f"transform:/{source.key}")  # the name record() locks for the same key
    if plan_artifact is not None and plan_artifact.id is None:
        names += [f"key:{plan_artifact.key}", f"hash:{plan_artifact.hash}"]

    def insert(rows: "dbapi.Rows") -> TrackedRun:
        if source is not None:
            t = upsert_transform_row(rows, {"key": source.key, "kind": source.kind, "source_code": source.source_code})
        else:
            t = _resolve_transform(rows, transform)  # type: ignore[arg-type]
        label[:] = [t.kind, t.key, t.uid]
        transform_id = t.id
        environment_id = text_artifact_id(rows, env_text, kind="environment", suffix=".txt", description="installed packages")
        plan_id = None
        if plan_artifact is not None and plan_artifact.id is not None:
            plan_id = plan_artifact.id  # a plan saved before, found by its key
        elif plan_artifact is not None:
            from ..artifacts.save import save_many

            fresh = _plan_artifact(plan) if plan is not None else plan_artifact  # a retry starts from scratch
            plan_id = save_many([fresh])[0].id  # joins this transaction
        uid = ids.base62(RUN_UID_LENGTH)
        row = {
            **dbapi.record_defaults(rows), "uid": uid, "transform_id": transform_id, "name": None, "started_at": now,
            "finished_at": None, "status": "started", "reference": uid, "reference_type": context.OWN_REFERENCE_TYPE,
            "params": clean, "facets": facets, "host": host(), "initiated_by_run_id": None, "report_id": None,
            "environment_id": environment_id, "plan_id": plan_id,
        }
        run = TrackedRun(id=rows.insert("runs", row), **row)
        if values and db.in_write():  # params that existing features name: the run's feature values
            from ..lineage.annotations import annotate_owner

            annotate_owner(db.session(), "Run", run.id, values)
        if db.in_write():
            from ..lineage.outbox import forward_tracked_run

            forward_tracked_run(db.session(), run, "START", when=now)  # live OpenLineage forwarding, when configured
        return run

    label: list[Any] = []
    run = dbapi.write_retrying(insert, names, attempts=MAX_ATTEMPTS)
    _state["tracked"] = _Tracked(run=run, source=source, pid=os.getpid(), started=time.monotonic(), instance_uid=db.settings().uid)
    context.set_process_run(run)
    _install_hooks()
    log.info("→ tracking %s %r (Transform %s), started Run %s", *label, run.uid)
    return run  # type: ignore[return-value]


def _forwarding() -> bool:
    """Live OpenLineage forwarding is configured (its events are built in the ORM's transaction)."""
    from ..lineage.forwarding_target import target

    return target() is not None


def _names_features(names: list[str]) -> bool:
    """Some of these params are named like features (a read before the write transaction)."""
    from ..db import dbapi
    from ..lineage.feature_names import names_features

    with dbapi.read() as rows:
        return names_features(rows, names)


def finish() -> "Run":
    """Close the run of `ln.track()` as completed; for notebooks save the notebook as the run's report."""
    tracked: _Tracked | None = _state["tracked"]
    if tracked is None or tracked.done:
        raise ValueError("ln.finish() closes the run that ln.track() started: call ln.track() first")
    report = None
    changed = False
    source = tracked.source
    if source is not None and source.path.is_file():
        from .source import read_source

        try:
            now_source = read_source(source.path)
        except (OSError, ValueError):
            now_source = source.source_code
        changed = now_source != source.source_code
        if changed:
            log.warning("%s changed while it ran: Transform %s keeps the source it started with", source.key, tracked.run.transform.uid)
        if source.kind == "notebook" and source.path.suffix.lower() == ".ipynb":
            report = source.path.read_text(encoding="utf-8", errors="replace")  # with its outputs
    run = _close(tracked, "completed", report=report, report_suffix=".ipynb", source_changed=changed)
    log.info("→ finished Run %s after %.2fs", run.uid, time.monotonic() - tracked.started)
    return run


def tracked_run() -> "Run | None":
    """The run of `ln.track()` that is still open in this process, if any."""
    tracked: _Tracked | None = _state["tracked"]
    return tracked.run if tracked is not None and not tracked.done else None


def _close(
    tracked: _Tracked,
    status: str,
    *,
    report: str | None = None,
    report_suffix: str = ".txt",
    reason: str | None = None,
    source_changed: bool = False,
) -> "Run":
    """Give the run its final status and finished_at: once, from whichever hook comes first."""
    from ..artifacts.text import text_artifact_id
    from ..db import dbapi
    from ..db import engine as db
    from ..storage.hashing import hash_bytes

    with _close_lock:
        if tracked.done:
            return tracked.run
        tracked.done = True
    run = tracked.run
    if context.process_run() is run:
        context.set_process_run(None)
    if db.settings().uid != tracked.instance_uid:
        log.warning("run %s belongs to another instance than the connected one: left %s", run.uid, run.status)
        return run
    values: dict[str, Any] = {"status": status, "finished_at": datetime.now(timezone.utc)}
    facets = dict(run.facets or {})
    if reason:
        facets["reason"] = reason
    if source_changed:
        facets["source_changed"] = True
    values["facets"] = facets or None
    forwarding = _forwarding()
    if forwarding:
        db.engine()  # the OpenLineage event is built in the ORM's transaction

    def close(rows: "dbapi.Rows") -> None:
        if report is not None:
            values["report_id"] = text_artifact_id(rows, report, kind="report", suffix=report_suffix, description=f"report of run {run.uid}")
        # an UPDATE by id: after an exception the session may have expired or dropped a loaded Run object
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        rows.execute(f"UPDATE runs SET {assignments} WHERE id = :id", {**values, "id": run.id})
        if forwarding and db.in_write():
            from ..lineage.outbox import forward_tracked_run

            forward_tracked_run(db.session(), run, _EVENT_OF_STATUS[status], when=values["finished_at"],
                                error=reason if status != "completed" else None)

    dbapi.write_retrying(close, [f"hash:{hash_bytes(report.encode())}"] if report is not None else [], attempts=MAX_ATTEMPTS)
    _show_written(run, values)
    return run


def _show_written(run: "TrackedRun", values: dict[str, Any]) -> None:
    """The run's handle (and its ORM Run, if loaded) and any other copy of the row in this thread's session
    show what was just written."""
    run.update(**values)
    from ..db.dbapi import sqlalchemy_started

    if sqlalchemy_started():
        from ..db import engine as db
        from ..models import Run

        s = db.session()
        loaded = s.identity_map.get(s.identity_key(Run, run.id))  # type: ignore[arg-type]
        if loaded is not None and loaded is not run._run:
            s.expire(loaded)


def _resolve_transform(rows: "Rows", transform: "Transform | str") -> "TransformRow":
    """The transform `ln.track(transform=...)` names: a uid (or its 12-character stem), a key, or a Transform."""
    from ..lineage.transforms import TransformRow, find_transform_row, upsert_transform

    if isinstance(transform, str):
        found = find_transform_row(rows, "uid = :uid", {"uid": transform})
        if found is None and len(transform) == 12:
            found = find_transform_row(rows, f"uid LIKE :stem AND is_latest = {rows.true}", {"stem": transform + "%"})
        if found is None:
            found = find_transform_row(rows, f"key = :key AND is_latest = {rows.true}", {"key": transform})
        if found is None:
            raise ValueError(f"no transform with uid or key {transform!r}: save it first, e.g. ln.Transform(key={transform!r}).save()")
        return found
    from ..db import engine as db

    stored = transform if transform.id is not None else upsert_transform(db.session(), transform)  # an ORM transaction
    return TransformRow(stored.id, stored.uid, stored.key, stored.hash, stored.version, stored.description, stored.kind,
                        stored.facets)


PLAN_KEY_FOLDER = ".plans"


def plan_key(path: Path) -> str:
    """Where a plan file is kept, wherever the agent wrote it: `.cursor/plans/x.md` -> `.plans/x.md`.

    One folder for every plan, so that `ln.track(plan=".plans/x.md")` names what `lamin save` saved.
    """
    return f"{PLAN_KEY_FOLDER}/{path.name}"


def _plan_artifact(plan: "str | os.PathLike[str] | Artifact") -> "Artifact":
    """A plan file becomes an unsaved plan artifact; a key (or a saved Artifact) is the saved plan."""
    from ..models import Artifact

    if isinstance(plan, Artifact):
        if plan.id is None:
            raise ValueError("ln.track(plan=artifact) takes a saved artifact: call artifact.save() first")
        return plan
    p = Path(plan).expanduser()
    if p.is_file():
        return Artifact(p.resolve(), key=plan_key(p), kind="plan", description="plan")
    saved = _saved_plan(os.fspath(plan))
    if saved is None:
        raise FileNotFoundError(
            f"no plan file at {p.resolve()} and no saved plan with key {os.fspath(plan)!r}:"
            " save it first, e.g. `lamin save path/to/plans/my-plan.md`, or pass the file's path"
        )
    return saved


def _saved_plan(key: str) -> "Artifact | None":
    """The latest artifact at `key` on main or the current branch, plans first."""
    from ..models import Artifact

    found = list(Artifact.filter(key=key, is_latest=True).order_by("-id"))
    plans = [a for a in found if a.kind == "plan"]
    return (plans or found or [None])[0]


# ---- closing runs the process doesn't close itself ----


def _install_hooks() -> None:
    if _state["hooks"]:
        return
    _state["hooks"] = True
    atexit.register(_on_exit)
    previous_hook = sys.excepthook

    def excepthook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        try:
            _on_exception(exc_type, exc, tb)
        finally:
            previous_hook(exc_type, exc, tb)

    sys.excepthook = excepthook
    install_signal_handlers()


def install_signal_handlers() -> None:
    """SIGTERM/SIGHUP -> SystemExit, so that `finally`, atexit and the hooks above run (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for name in CLOSE_SIGNALS:
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        try:
            if signal.getsignal(signum) is signal.SIG_DFL:  # never take over someone else's handler
                signal.signal(signum, _exit_on_signal)
        except (ValueError, OSError):
            pass


def _exit_on_signal(signum: int, _frame: Any) -> None:
    signal.signal(signum, signal.SIG_DFL)  # a second signal kills at once
    _state["signal"] = signal.Signals(signum).name
    raise SystemExit(128 + signum)


def _on_exception(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
    tracked: _Tracked | None = _state["tracked"]
    if tracked is None or tracked.done or tracked.pid != os.getpid():
        return  # a forked child must not close its parent's run
    status = "aborted" if issubclass(exc_type, KeyboardInterrupt) else "errored"
    import traceback

    text = "".join(traceback.format_exception(exc_type, exc, tb))
    try:
        _close(tracked, status, report=text, reason=f"{exc_type.__name__}: {exc}"[:500])
    except Exception as e:  # the database may be what failed: say so, don't hide the original error
        print(f"lamin: could not mark run {tracked.run.uid} {status}: {e}", file=sys.stderr)


def _on_exit() -> None:
    tracked: _Tracked | None = _state["tracked"]
    if tracked is None or tracked.done or tracked.pid != os.getpid():
        return
    try:
        by = _state.get("signal")
        _close(tracked, "aborted", reason=f"terminated by {by}" if by else "the process exited without ln.finish()")
    except Exception as e:
        print(f"lamin: could not mark run {tracked.run.uid} aborted: {e}", file=sys.stderr)
