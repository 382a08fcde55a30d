"""Login for the explorer's pages: with `lamin serve --token T`, a form that keeps T in an HTTP-only cookie.

The server's `GuardMiddleware` (http.py) accepts only an `Authorization` header. A browser cannot send one on
a link click, so `ExplorerGate` sits outside it and, for the explorer's paths only:

- a request carrying the `lamin_token` cookie with the right token gets `Authorization: Bearer T` added, and
  so passes the guard like any API client;
- the login form and the static files (CSS, the graph script: nothing secret) pass without a token;
- a page request without a valid token is redirected to the login form (the API keeps answering 401 JSON);
- `POST /ui/login` checks the token and sets the cookie; `POST /ui/logout` clears it.

The cookie is `HttpOnly` (scripts cannot read it), `SameSite=Strict` (other sites' forms cannot use it), and
`Secure` when the request came over HTTPS. Without `--token` the gate does nothing: pages are open as the API is.
"""

from __future__ import annotations

import hmac
import urllib.parse
from typing import TYPE_CHECKING

from starlette.responses import RedirectResponse, Response

from ..http import ServerConfig, token_matches

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

PREFIX = "/ui"
COOKIE = "lamin_token"
LOGIN = PREFIX + "/login"
LOGOUT = PREFIX + "/logout"
STATIC = PREFIX + "/static/"
MAX_FORM_BYTES = 8 * 1024


def is_page(path: str) -> bool:
    """A path the explorer answers with HTML (the API's paths keep their JSON 401)."""
    return path == "/" or (path.startswith(PREFIX + "/") and not path.startswith(PREFIX + "/api/"))


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this server only (no `//evil.example`, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _cookie_token(scope: Scope) -> str | None:
    for k, v in scope["headers"]:
        if k == b"cookie":
            for part in v.decode("latin-1").split(";"):
                name, _, value = part.strip().partition("=")
                if name == COOKIE:
                    return urllib.parse.unquote(value)
    return None


def _with_bearer(scope: Scope, token: str) -> Scope:
    headers = [(k, v) for k, v in scope["headers"] if k != b"authorization"]
    headers.append((b"authorization", f"Bearer {token}".encode("latin-1")))
    return {**scope, "headers": headers}


class ExplorerGate:
    """ASGI middleware in front of the server's guard; see the module docstring."""

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = self.config.token
        if scope["type"] != "http" or not token:
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if path == LOGIN and method == "POST":
            await self._login(scope, receive, send, token)
            return
        if path == LOGOUT and method == "POST":
            response: Response = RedirectResponse(LOGIN, status_code=303)
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
            await response(scope, receive, send)
            return
        if not (is_page(path) or path.startswith(PREFIX + "/api/")):
            await self.app(scope, receive, send)  # the API: the guard decides, as before
            return
        cookie = _cookie_token(scope)
        if cookie is not None and hmac.compare_digest(cookie.encode(), token.encode()):
            await self.app(_with_bearer(scope, token), receive, send)
            return
        authorization = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
        if token_matches(authorization, token):
            await self.app(scope, receive, send)
            return
        if path == LOGIN or path.startswith(STATIC):
            await self.app(_with_bearer(scope, token), receive, send)  # public: the form and its CSS
            return
        if is_page(path) and method in ("GET", "HEAD"):
            target = path + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
            await RedirectResponse(f"{LOGIN}?next={urllib.parse.quote(target)}", status_code=303)(scope, receive, send)
            return
        await self.app(scope, receive, send)  # the guard answers 401

    async def _login(self, scope: Scope, receive: Receive, send: Send, token: str) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_FORM_BYTES:
                await Response("form too large", status_code=413)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        form = urllib.parse.parse_qs(body.decode("utf-8", errors="replace"))
        given = (form.get("token") or [""])[0]
        target = safe_next((form.get("next") or ["/"])[0])
        if not hmac.compare_digest(given.encode(), token.encode()):
            failed = f"{LOGIN}?error=1&next={urllib.parse.quote(target)}"
            await RedirectResponse(failed, status_code=303)(scope, receive, send)
            return
        response = RedirectResponse(target, status_code=303)
        secure = scope.get("scheme") == "https"
        response.set_cookie(COOKIE, urllib.parse.quote(token, safe=""), path="/", httponly=True, samesite="strict", secure=secure)
        await response(scope, receive, send)
