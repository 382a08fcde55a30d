"""The logger plugin's work: translate each record and send its events to a sink.

A broken database or an unreachable server must not stop a workflow that is otherwise fine, so every
failure is reported on stderr (each distinct problem once) and the workflow goes on.
"""

import sys
from logging import LogRecord
from typing import TYPE_CHECKING

from lamin_core.lineage.events import ANNOTATE_MODES

from .sinks import Sink, make_sink
from .translate import Role, Translator, default_uri_resolver

if TYPE_CHECKING:
    from lamin_core.lineage.events import Dataset, LineageEvent

    from . import LogHandlerSettings

LAMIN_SCHEME = "lamin://"


class Recorder:
    """One Snakemake invocation: its translator, its sink, and the problems already reported."""

    def __init__(self, settings: "LogHandlerSettings", sink: Sink | None = None) -> None:
        if settings.server and not settings.server.startswith(("http://", "https://")):
            # a typo in an option fails at once, before any job runs, instead of on every event
            from snakemake_interface_common.exceptions import WorkflowError  # shown without a traceback

            raise WorkflowError(f"--logger-lamin-server must be an http:// or https:// URL, not {settings.server!r}")
        annotate = getattr(settings, "annotate", None) or "existing"
        if annotate not in ANNOTATE_MODES:
            from snakemake_interface_common.exceptions import WorkflowError

            raise WorkflowError(f"--logger-lamin-annotate must be one of {', '.join(ANNOTATE_MODES)}, not {annotate!r}")
        self.settings = settings
        self.translator = Translator(
            register_unproduced_inputs=not settings.skip_unproduced_inputs,
            workflow_name=settings.name,
            resolve_uri=self._resolve_uri,
            annotate=annotate,
            job_params=JobParams(),
            storage_refusal=storage_refusal,
        )
        self._sink = sink
        self._reported: set[str] = set()
        self.failures = 0

    @property
    def sink(self) -> Sink:
        # made on first use: connecting to an instance costs time that a `--help` or a failed
        # DAG should not pay
        if self._sink is None:
            self._sink = make_sink(self.settings)
        return self._sink

    def handle(self, record: LogRecord) -> None:
        try:
            events = self.translator.handle(record)
        except Exception as e:  # a record shape we did not foresee: keep going with the next
            self._report(f"could not translate a Snakemake {getattr(record, 'event', 'log')} record", e)
            return
        self._send(events)

    def close(self) -> None:
        try:
            self._send(self.translator.finish())
        finally:
            if self._sink is not None:
                self._sink.close()
        if self.failures:
            print(
                f"lamin: {self.failures} lineage event(s) of this run could not be recorded (see above)",
                file=sys.stderr,
            )

    def _send(self, events: "list[LineageEvent]") -> None:
        for event in events:
            try:
                self.sink.send(event)
            except Exception as e:
                self.failures += 1
                self._report(f"could not record {event.event_type} of {event.job.name}", e)

    def _report(self, what: str, error: Exception) -> None:
        # the same failure repeats for every event (a missing table, a refused token): say it once
        key = f"{type(error).__name__}:{str(error)[:200]}"
        if key in self._reported:
            return
        self._reported.add(key)
        print(f"lamin: {what}: {type(error).__name__}: {error}", file=sys.stderr)

    def _resolve_uri(self, uri: str, role: Role) -> "Dataset | None":
        """`lamin://KEY` files belong to the storage plugin, which knows the artifact version it moved."""
        if uri.startswith(LAMIN_SCHEME):
            return lamin_dataset(uri, role)
        return default_uri_resolver(uri, role)


def lamin_dataset(uri: str, role: Role) -> "Dataset | None":
    """The dataset of the artifact behind `lamin://KEY` that this job read or wrote.

    Asks the storage plugin (same process) for the version it retrieved or stored; without it, the
    latest version at KEY. None when there is none (the job failed before storing it).
    """
    plugin = sys.modules.get("snakemake_storage_plugin_lamin")
    if plugin is not None:
        found = plugin.dataset_for(uri, role)
        if found is not None:
            return found
    try:
        from snakemake_storage_plugin_lamin.artifacts import dataset_of_latest
    except ImportError:
        return None
    return dataset_of_latest(uri[len(LAMIN_SCHEME) :].partition("?")[0])  # without `?schema=`


def storage_refusal(uri: str) -> "str | None":
    """Why the storage plugin (same process) did not store this output, if it refused it."""
    plugin = sys.modules.get("snakemake_storage_plugin_lamin")
    refusal_for = getattr(plugin, "refusal_for", None)
    return refusal_for(uri) if refusal_for is not None else None


class JobParams:
    """The named `params:` of a job by its id, from Snakemake's running workflow.

    Snakemake's log records carry a job's wildcards but not its params, and the logger is handed no
    workflow: the running one is `snakemake.workflow.workflow` (Snakemake's workflow module sets it), and
    its DAG maps jobs to ids (`dag._jobid`). These are Snakemake internals, so anything missing means "no
    params", never an error. The id -> job map is rebuilt only when an id is not in it (jobs are added
    as the DAG grows, e.g. after a checkpoint).
    """

    def __init__(self) -> None:
        self._by_id: dict[int, object] = {}

    def __call__(self, jobid: int) -> dict:
        try:
            job = self._by_id.get(jobid)
            if job is None:
                workflow = getattr(sys.modules.get("snakemake.workflow"), "workflow", None)
                ids = getattr(getattr(workflow, "dag", None), "_jobid", None) or {}
                self._by_id = {i: j for j, i in list(ids.items())}
                job = self._by_id.get(jobid)
            if job is None:
                return {}
            return {str(name): value for name, value in job.params.items()}  # type: ignore[attr-defined]
        except Exception:
            return {}
