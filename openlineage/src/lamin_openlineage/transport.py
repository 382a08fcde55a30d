"""`LaminTransport`: openlineage-python writes events straight into the connected lamin-core instance.

Selected in `openlineage.yml` as `transport: {type: lamin_openlineage.LaminTransport}` (the client imports a
dotted type itself) or, once `lamin_openlineage` is imported, as `transport: {type: lamin}` (registered
below with the client's `register_transport`). No server is involved: each RunEvent is validated like the
server does and handed to `lamin_core.lineage.record()` in the emitting thread.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import attr
from openlineage.client.transport import Config, Transport, register_transport

if TYPE_CHECKING:
    from lamin_core.lineage.recorder import Recorded

log = logging.getLogger(__name__)

_FALSE = {"false", "0", "no", "off"}


@attr.define
class LaminConfig(Config):
    # check each event against the OpenLineage 2-0-2 schema before recording it (as `lamin serve` does)
    validate: bool = True

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> LaminConfig:
        unknown = set(params) - {"type", "validate"}
        if unknown:
            raise ValueError(f"unknown option(s) for the lamin transport: {', '.join(sorted(unknown))}")
        validate = params.get("validate", True)
        if isinstance(validate, str):  # from OPENLINEAGE__TRANSPORT__VALIDATE=false
            validate = validate.strip().lower() not in _FALSE
        return cls(validate=bool(validate))


@register_transport
class LaminTransport(Transport):
    kind = "lamin"
    config_class = LaminConfig

    def __init__(self, config: LaminConfig) -> None:
        self.config = config

    def emit(self, event: Any) -> Recorded | None:
        """Record a RunEvent; DatasetEvents and JobEvents (no run) are skipped: lamin-core records runs."""
        from lamin_core.lineage import record
        from lamin_core.lineage.openlineage_json import from_openlineage
        from openlineage.client.serde import Serde

        d = Serde.to_dict(event)
        if "run" not in d:
            log.debug("lamin transport: skipping %s (not a RunEvent)", type(event).__name__)
            return None
        if self.config.validate:
            from .validation import parse_event

            lineage_event = parse_event(d)
        else:
            lineage_event = from_openlineage(d)
        from lamin_core.lineage.outbox import ingested

        with ingested([lineage_event]):  # from an OpenLineage producer: live forwarding does not send it back out
            return record(lineage_event)

    def close(self, timeout: float = -1) -> bool:
        return True  # synchronous: nothing is pending
