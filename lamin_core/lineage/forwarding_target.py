"""Where live OpenLineage forwarding sends recorded events: `target()`, from variables and the instance's settings.

Apart from `outbox.py` (which writes the rows to forward) and `forwarding.py` (which sends them) because
every recording process asks `target()` before its first event, and nearly always hears None: asking must
not import what writing and sending need (`dataclasses`, SQLAlchemy, HTTP). `ln.track()` asks it too.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

from .. import log

URL_VARIABLE = "LAMIN_OPENLINEAGE_URL"
TOKEN_VARIABLE = "LAMIN_OPENLINEAGE_TOKEN"
API_KEY_VARIABLE = "LAMIN_OPENLINEAGE_API_KEY"  # what `lamin openlineage export` read first: still honoured
HEADERS_VARIABLE = "LAMIN_OPENLINEAGE_HEADERS"  # a JSON object of extra HTTP headers
CAP_VARIABLE = "LAMIN_OPENLINEAGE_BACKLOG_CAP"
FORWARD_INGESTED_VARIABLE = "LAMIN_OPENLINEAGE_FORWARD_INGESTED"
DEFAULT_BACKLOG_CAP = 100_000
OFF = {"", "0", "off", "none", "false", "no"}
_TRUE = {"1", "true", "yes", "on"}
SETTINGS_KEYS = ("url", "token", "headers", "backlog_cap", "forward_ingested")


class Target:
    """Where recorded events are forwarded, and how. A plain class, not a dataclass: this module is read by
    every recording process, and `dataclasses` imports `inspect`; its repr hides the token."""

    __slots__ = ("url", "token", "headers", "backlog_cap", "forward_ingested", "problem")

    def __init__(self, url: str, token: str | None = None, headers: Mapping[str, str] | None = None,
                 backlog_cap: int = DEFAULT_BACKLOG_CAP, forward_ingested: bool = False, problem: str | None = None) -> None:
        self.url = url
        self.token = token
        self.headers: Mapping[str, str] = dict(headers or {})
        self.backlog_cap = backlog_cap
        self.forward_ingested = forward_ingested
        self.problem = problem  # a setting that could not be read: the sender reports it instead of sending

    @property
    def endpoint(self) -> str:
        """The POST endpoint: the URL as given when it names `/api/v1/lineage`, else that path under it."""
        url = self.url.rstrip("/")
        return url if url.endswith("/api/v1/lineage") else f"{url}/api/v1/lineage"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Target) and all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __repr__(self) -> str:
        token = "***" if self.token else None
        return f"Target(url={self.url!r}, token={token!r}, backlog_cap={self.backlog_cap}, forward_ingested={self.forward_ingested})"


def instance_options() -> dict[str, Any]:
    """The connected instance's forwarding settings (`InstanceSettings.openlineage`), {} without an instance."""
    try:
        from ..db import engine as db

        return dict(getattr(db.settings(), "openlineage", None) or {})
    except Exception:  # no instance connected: nothing is recorded, so nothing is forwarded either
        return {}


def target() -> Target | None:
    """The configured target, or None. Each option: the `LAMIN_OPENLINEAGE_*` variable, else the instance's setting.

    `OPENLINEAGE_URL` is deliberately not read (docs/openlineage.md, "Live forwarding"): it is where
    OpenLineage producers send their own events, and forwarding lamin-core's copy there too would send
    them twice to the same place.
    """
    env_url = os.environ.get(URL_VARIABLE)
    if env_url is not None and env_url.strip().lower() in OFF - {""}:
        return None  # LAMIN_OPENLINEAGE_URL=off: forwarding off for this process, whatever the instance says
    options = instance_options()
    url = (env_url or "").strip() or str(options.get("url") or "").strip()
    if not url:
        return None
    return _target(url, options)


def _target(url: str, options: Mapping[str, Any]) -> Target:
    problems: list[str] = []
    token = os.environ.get(TOKEN_VARIABLE) or os.environ.get(API_KEY_VARIABLE) or options.get("token") or None
    headers: Any = options.get("headers") or {}
    raw_headers = os.environ.get(HEADERS_VARIABLE)
    if raw_headers:
        try:
            headers = json.loads(raw_headers)
        except ValueError as e:
            problems.append(f"{HEADERS_VARIABLE} is not JSON ({e}): set it to an object, e.g. '{{\"X-Team\": \"bio\"}}'")
            headers = {}
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        problems.append(f"OpenLineage headers must be an object of strings, got {headers!r}")
        headers = {}
    cap: Any = os.environ.get(CAP_VARIABLE) or options.get("backlog_cap") or DEFAULT_BACKLOG_CAP
    try:
        cap = int(cap)
        if cap < 1:
            raise ValueError
    except (TypeError, ValueError):
        log.warning("lamin: %s must be a positive integer, not %r: using %d", CAP_VARIABLE, cap, DEFAULT_BACKLOG_CAP)
        cap = DEFAULT_BACKLOG_CAP
    forward = os.environ.get(FORWARD_INGESTED_VARIABLE)
    forward_ingested = forward.strip().lower() in _TRUE if forward is not None else bool(options.get("forward_ingested"))
    return Target(url=url, token=token, headers=headers, backlog_cap=cap, forward_ingested=forward_ingested,
                  problem="; ".join(problems) or None)




def set_instance_option(name: str, value: Any) -> None:
    """Save one forwarding option in the connected instance's settings (None removes it)."""
    from ..db import engine as db

    if name not in SETTINGS_KEYS:
        raise ValueError(f"unknown OpenLineage forwarding option {name!r}: use one of {', '.join(SETTINGS_KEYS)}")
    if name == "url" and value is not None:
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise ValueError(f"openlineage_url must be an http(s) URL such as 'http://localhost:5000', not {value!r}")
    if name == "headers" and value is not None:
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ValueError(f"OpenLineage headers must be a dict of strings, e.g. {{'X-Team': 'bio'}}, not {value!r}")
    if name == "backlog_cap" and value is not None and (not isinstance(value, int) or value < 1):
        raise ValueError(f"backlog_cap must be a positive integer, not {value!r}")
    settings = db.settings()
    options = dict(getattr(settings, "openlineage", None) or {})
    if value is None:
        options.pop(name, None)
    else:
        options[name] = value
    settings.openlineage = options
    settings.save()
