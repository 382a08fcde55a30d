"""Where lineage events go: the local recording path, or a `lamin serve` server over HTTP."""

import json
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from lamin_core.lineage.events import LineageEvent

    from . import LogHandlerSettings

LINEAGE_PATH = "/api/v1/lineage"
# A server that is briefly unreachable (restart, network blip) gets a few more tries per event.
_HTTP_ATTEMPTS = 3
_HTTP_TIMEOUT_S = 30.0


class Sink(Protocol):
    def send(self, event: "LineageEvent") -> None: ...

    def close(self) -> None: ...


class LocalSink:
    """`lamin_core.lineage.record()` in this process, on the connected (or the named) instance."""

    def __init__(self, instance: str | None = None) -> None:
        from lamin_core.lineage import record

        if instance:
            _use_instance(instance)
        self._record = record

    def send(self, event: "LineageEvent") -> None:
        self._record(event)

    def close(self) -> None:
        pass


class HttpSink:
    """POSTs each event as OpenLineage JSON to `lamin serve` (`/api/v1/lineage`)."""

    def __init__(self, server: str, token: str | None = None) -> None:
        from lamin_core.lineage.openlineage_json import to_openlineage

        if not server.startswith(("http://", "https://")):
            raise ValueError(f"--logger-lamin-server must be an http(s) URL, got {server!r}")
        self.url = server.rstrip("/") + LINEAGE_PATH
        self._headers = {"Content-Type": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._to_openlineage = to_openlineage

    def send(self, event: "LineageEvent") -> None:
        body = json.dumps(self._to_openlineage(event)).encode("utf-8")
        for attempt in range(1, _HTTP_ATTEMPTS + 1):
            request = urllib.request.Request(self.url, data=body, headers=self._headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT_S) as response:
                    response.read()
                return
            except urllib.error.HTTPError as e:
                detail = e.read().decode("utf-8", errors="replace")[:500]
                if e.code < 500 or attempt == _HTTP_ATTEMPTS:  # a 4xx will not pass on a retry
                    raise RuntimeError(f"{self.url} answered {e.code}: {detail}") from None
            except (urllib.error.URLError, OSError) as e:
                if attempt == _HTTP_ATTEMPTS:
                    raise RuntimeError(f"cannot reach {self.url}: {e}") from None
            time.sleep(0.5 * 2 ** (attempt - 1))

    def close(self) -> None:
        pass


def make_sink(settings: "LogHandlerSettings") -> Sink:
    if settings.server:
        return HttpSink(settings.server, settings.token)
    return LocalSink(settings.instance)


def _use_instance(name: str) -> None:
    """Write to instance `name` for this process only, leaving the user's connected instance alone."""
    import lamin_core as ln

    ln.connect(name)
