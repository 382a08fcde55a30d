"""Where lineage events go: a recording child process on this machine, or a `lamin serve` server over HTTP."""

import json
import os
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
# how long the end of `snakemake` waits for the recording process to catch up
_DRAIN_TIMEOUT_S = 900.0


class Sink(Protocol):
    def send(self, event: "LineageEvent") -> None: ...

    def close(self) -> None: ...


class ProcessSink:
    """Streams events to the core's recording child process (`lamin_core.lineage.background`), so the
    database work runs beside Snakemake's scheduler instead of inside its process.

    The pipe applies back-pressure: when the child lags, only the logging thread waits. `close()`
    waits until every event is recorded, so lineage is complete when `snakemake` returns.
    """

    def __init__(self, instance: str | None = None) -> None:
        from lamin_core.lineage.background import BackgroundRecorder

        env = dict(os.environ)
        if instance:
            env["LAMIN_INSTANCE"] = instance  # this process tree only; the connected instance stays
        self._recorder = BackgroundRecorder(env)

    def send(self, event: "LineageEvent") -> None:
        self._recorder.send([event])

    def close(self) -> None:
        self._recorder.close(timeout=_DRAIN_TIMEOUT_S)


class HttpSink:
    """POSTs each event as OpenLineage JSON to `lamin serve` (`/api/v1/lineage`)."""

    def __init__(self, server: str, token: str | None = None) -> None:
        from lamin_core.lineage.openlineage_json import to_openlineage

        if not server.startswith(("http://", "https://")):
            raise ValueError(f"--logger-lamin-server must be an http(s) URL, got {server!r}")
        from lamin_core.tracking.redact import redact

        self.url = server.rstrip("/") + LINEAGE_PATH
        self._shown_url = redact(self.url)  # error messages never show a password in the URL
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
                    raise RuntimeError(f"{self._shown_url} answered {e.code}: {detail}") from None
            except (urllib.error.URLError, OSError) as e:
                if attempt == _HTTP_ATTEMPTS:
                    raise RuntimeError(f"cannot reach {self._shown_url}: {e}") from None
            time.sleep(0.5 * 2 ** (attempt - 1))

    def close(self) -> None:
        pass


def make_sink(settings: "LogHandlerSettings") -> Sink:
    if settings.server:
        return HttpSink(settings.server, settings.token)
    return ProcessSink(settings.instance)

