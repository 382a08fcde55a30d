"""What `record()` returns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from ..db import engine as db

if TYPE_CHECKING:
    from ..models import Artifact, Run, Transform


class Recorded:
    """What `record()` did: whether the event was new, and the records it touched.

    `run`, `transform`, `inputs` and `outputs` are loaded when first read: a server that answers
    201 or 200 needs `is_new` and `run_uid` only, and per event every avoided query counts.
    """

    def __init__(self, run_id: int, run_uid: str, transform_id: int, is_new: bool,
                 input_ids: Sequence[int] = (), output_ids: Sequence[int] = ()) -> None:
        self.run_id, self.run_uid, self.transform_id, self.is_new = run_id, run_uid, transform_id, is_new
        self.input_ids, self.output_ids = list(input_ids), list(output_ids)

    @property
    def run(self) -> "Run":
        from ..models import Run

        with db.read() as s:  # ends its transaction: a lazy read must not hold a snapshot or locks
            return s.get(Run, self.run_id)  # type: ignore[return-value]

    @property
    def transform(self) -> "Transform":
        from ..models import Transform

        with db.read() as s:
            return s.get(Transform, self.transform_id)  # type: ignore[return-value]

    @property
    def inputs(self) -> list["Artifact"]:
        return self._artifacts(self.input_ids)

    @property
    def outputs(self) -> list["Artifact"]:
        return self._artifacts(self.output_ids)

    @staticmethod
    def _artifacts(artifact_ids: list[int]) -> list["Artifact"]:
        from ..models import Artifact

        with db.read() as s:
            return [s.get(Artifact, i) for i in artifact_ids]  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"Recorded(run={self.run_uid}, is_new={self.is_new})"
