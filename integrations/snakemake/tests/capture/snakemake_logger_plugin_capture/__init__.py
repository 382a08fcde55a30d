"""A throwaway Snakemake logger plugin that writes every log record's attributes as JSON lines.

Used to make the fixtures in `tests/data/*/records.jsonl` from real Snakemake runs (see `README.md` here).
Found only when this folder is on PYTHONPATH; never installed.
"""

import json
import logging
import os
from typing import Any

from snakemake_interface_logger_plugins.base import LogHandlerBase

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# machine-specific or display-only attributes: left out of the fixtures
_DROPPED = {"platform", "python_version", "user", "host", "datetime", "quietness", "indent", "priority",
            "printshellcmd", "is_handover", "local"}


def _plain(value: Any) -> Any:
    """JSON-able copy: Snakemake's Namedlists (resources) become dicts, paths and enums strings."""
    if hasattr(value, "items") and not isinstance(value, dict):
        try:
            return {str(k): _plain(v) for k, v in value.items()}
        except Exception:
            pass
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return str(value)


class LogHandler(LogHandlerBase):
    def __post_init__(self) -> None:
        self._out = open(os.environ.get("CAPTURE_OUT", "records.jsonl"), "a")
        self._workdir = os.environ.get("CAPTURE_WORKDIR")

    def emit(self, record: logging.LogRecord) -> None:
        if not getattr(record, "event", None):
            return  # plain messages carry no lineage
        attrs = {k: _plain(v) for k, v in record.__dict__.items() if k not in _STANDARD and k not in _DROPPED}
        attrs["msg"] = str(record.msg)
        attrs["levelname"] = record.levelname
        line = json.dumps(attrs)
        if self._workdir:
            line = line.replace(self._workdir, "{WORKDIR}")
        self._out.write(line + "\n")
        self._out.flush()

    def close(self) -> None:
        self._out.close()
        super().close()

    @property
    def writes_to_stream(self) -> bool:
        return False

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return True

    @property
    def has_formatter(self) -> bool:
        return True

    @property
    def needs_rulegraph(self) -> bool:
        return False
