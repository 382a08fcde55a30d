"""Snakemake logger plugin `lamin`: `snakemake --logger lamin` records the run as lamin-core lineage.

Snakemake imports every installed plugin module each time it starts, so this module imports only the
plugin interface; the translation and the recording path load when a workflow actually runs.
No `from __future__ import annotations` here: Snakemake builds its command line from the settings'
annotations and needs them as real types.
"""

from dataclasses import dataclass, field
from logging import LogRecord
from typing import Optional

from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.settings import LogHandlerSettingsBase

__all__ = ["LogHandler", "LogHandlerSettings"]


@dataclass
class LogHandlerSettings(LogHandlerSettingsBase):
    """`--logger-lamin-<field>` options (with `env_var`: also `SNAKEMAKE_LOGGER_LAMIN_<FIELD>`).

    `Optional[str]`, not `str | None`: Snakemake turns these annotations into argparse types and only
    understands `typing.Optional`.
    """

    instance: Optional[str] = field(
        default=None,
        metadata={
            "help": "lamin-core instance to write to (default: the connected one, see `lamin info`).",
            "env_var": True,
        },
    )
    skip_unproduced_inputs: bool = field(
        default=False,
        metadata={
            "help": "Do not register input files that no job of this run produced "
            "(raw data, reference files); by default they are registered as inputs.",
        },
    )
    server: Optional[str] = field(
        default=None,
        metadata={
            "help": "URL of a `lamin serve` server to send lineage to over HTTP "
            "(e.g. http://host:8000) instead of writing to a database from this machine.",
            "env_var": True,
        },
    )
    token: Optional[str] = field(
        default=None,
        metadata={
            "help": "Token for the `lamin serve` server (prefer the environment variable: "
            "a command-line value is visible to other users of the machine).",
            "env_var": True,
        },
    )
    name: Optional[str] = field(
        default=None,
        metadata={
            "help": "Name of the workflow's transform (default: <project folder>/<Snakefile path>).",
        },
    )
    annotate: str = field(
        default="existing",
        metadata={
            "help": "How a job's wildcards and params annotate its run and outputs: 'existing' (default: "
            "only features that exist in the instance get values), 'auto' (missing features are created, "
            "typed from the values, under the feature type 'snakemake') or 'none'.",
            "choices": ["none", "existing", "auto"],
            "env_var": True,
        },
    )


class LogHandler(LogHandlerBase):
    """Feeds Snakemake's log records to the translator and its events to lamin-core.

    Snakemake calls `emit()` from one queue thread in the main process, and `close()` once at the end
    (after that thread has drained the queue), so the handler needs no locking of its own.
    """

    def __post_init__(self) -> None:
        from .handler import Recorder

        settings = self.settings if isinstance(self.settings, LogHandlerSettings) else LogHandlerSettings()
        dryrun = bool(getattr(self.common_settings, "dryrun", False))
        self._recorder = None if dryrun else Recorder(settings)

    def emit(self, record: LogRecord) -> None:
        if self._recorder is not None:
            self._recorder.handle(record)

    def close(self) -> None:
        try:
            if self._recorder is not None:
                self._recorder.close()
                self._recorder = None
        finally:
            super().close()

    @property
    def writes_to_stream(self) -> bool:
        return False

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        # True: Snakemake's default filter (quiet modes) would otherwise drop records we need
        return True

    @property
    def has_formatter(self) -> bool:
        return True

    @property
    def needs_rulegraph(self) -> bool:
        return False
