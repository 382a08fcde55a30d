"""The run `ln.track()` returns: its row's main fields at once, the ORM `Run` when anything else is asked.

`ln.track()` writes its rows without importing SQLAlchemy (`db.dbapi`), so a tracked script that never
touches a registry never pays for the ORM. The handle answers `uid`, `id`, `status`, times, params and
reference from what was written; any other attribute (`run.transform`, `run.environment`, `run.features`,
...) loads the Run through the ORM once and answers from it. `context.current_run()` hands the ORM Run to
code that needs a real one (relationships, sessions).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..models import Run

# what the handle knows without the ORM: the columns `ln.track()` and `_close` write
ROW_FIELDS = ("id", "uid", "transform_id", "name", "status", "started_at", "finished_at", "reference",
              "reference_type", "params", "facets", "host", "environment_id", "plan_id", "report_id")


class TrackedRun:
    __slots__ = ("_fields", "_run")

    def __init__(self, **fields: Any) -> None:
        # only what the writer knows: anything else is answered by the ORM Run
        object.__setattr__(self, "_fields", {f: fields[f] for f in ROW_FIELDS if f in fields})
        object.__setattr__(self, "_run", None)

    def orm(self) -> "Run":
        """The Run as an ORM object (loaded once; later changes of the row land on it)."""
        run = self._run
        if run is None:
            from ..db import engine as db
            from ..models import Run

            with db.read() as s:
                run = s.get(Run, self._fields["id"])
            if run is None:
                raise LookupError(f"run {self._fields['uid']} is not in the database (it was rolled back or deleted)")
            object.__setattr__(self, "_run", run)
        return run

    @property
    def is_loaded(self) -> bool:
        return self._run is not None

    def update(self, **values: Any) -> None:
        """What was written to the row since: the handle and a loaded Run both show it."""
        self._fields.update({k: v for k, v in values.items() if k in self._fields})
        if self._run is not None:
            from sqlalchemy.orm.attributes import set_committed_value

            for name, value in values.items():
                set_committed_value(self._run, name, value)

    def __getattr__(self, name: str) -> Any:
        fields = object.__getattribute__(self, "_fields")
        if name in fields and object.__getattribute__(self, "_run") is None:
            return fields[name]
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.orm(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.orm(), name, value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TrackedRun):
            return other._fields["id"] == self._fields["id"]
        return getattr(other, "__tablename__", None) == "runs" and getattr(other, "id", None) == self._fields["id"]

    def __hash__(self) -> int:
        return hash(("runs", self._fields["id"]))

    def __repr__(self) -> str:
        if self._run is not None:
            return repr(self._run)
        shown = []
        for name in ("id", "uid", "transform_id", "status", "started_at", "finished_at", "host"):
            value = self._fields.get(name)
            if value is None:
                continue
            if isinstance(value, datetime):
                value = value.strftime("%Y-%m-%d %H:%M:%S")
            shown.append(f"{name}={value!r}")
        return f"Run({', '.join(shown)})"
