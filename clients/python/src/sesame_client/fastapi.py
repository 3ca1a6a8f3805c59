"""FastAPI (and Starlette) integration: ``Depends(sesame.require_session)``.

Setup::

    from sesame_client.fastapi import AsyncCurrentSession, FastAPISesame

    sesame = FastAPISesame(url="http://127.0.0.1:7700", api_key=KEY, login_url="/login")
    app = FastAPI()
    sesame.install(app)

    @app.get("/profile")
    async def profile(s: AsyncCurrentSession = Depends(sesame.require_session)):
        return {"user": s.user}

``optional_session`` gives ``None`` instead of refusing. :meth:`FastAPISesame.install`
adds a small ASGI middleware that puts sesame's ``Set-Cookie`` values (a renewed cookie,
a removal after a refused session or a logout) on whatever response goes out — including
a ``RedirectResponse`` an endpoint returns, which FastAPI's ``Response`` parameter would
miss — and the handlers that answer a refused session (401 JSON, or 303 to the login
page) and a sesame outage (503 with ``Retry-After``, never 500).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import _web
from ._flow import AsyncCurrentSession, AsyncFlow
from ._web import Refusal, RequestFacts, ResponseChanges, WebSettings
from .aio import AsyncSesame
from .errors import SesameUnavailable
from .models import Issued

__all__ = ["AsyncCurrentSession", "FastAPISesame", "SesameMiddleware", "SessionRequired"]

_CHANGES = "sesame.changes"
_OUTCOME = "sesame.outcome"


class SessionRequired(Exception):
    """Raised by ``require_session`` without a live session; answered by the handler that
    :meth:`FastAPISesame.install` adds."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.code)
        self.refusal = refusal


class SesameMiddleware:
    """ASGI middleware: gives each request a :class:`~sesame_client._web.ResponseChanges`
    and applies it to the response's start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        changes = ResponseChanges()
        scope[_CHANGES] = changes

        async def send_with_changes(message: Message) -> None:
            if message["type"] == "http.response.start" and (
                changes.set_cookies or changes.headers
            ):
                headers = list(message.get("headers", []))
                names = {bytes(k).lower() for k, _ in headers}
                headers += [(b"set-cookie", v.encode("latin-1")) for v in changes.set_cookies]
                headers += [
                    (k.lower().encode("latin-1"), v.encode("latin-1"))
                    for k, v in changes.headers.items()
                ]
                if changes.set_cookies and b"cache-control" not in names:
                    # A response that sets a session cookie must not be stored by a cache.
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_changes)


def _facts(request: Request) -> RequestFacts:
    h = request.headers
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return RequestFacts(
        method=request.method,
        path=path,
        host=h.get("host"),
        cookie_header=h.get("cookie"),
        authorization=h.get("authorization"),
        user_agent=h.get("user-agent"),
        peer=request.client.host if request.client else None,
        forwarded_for=h.get("x-forwarded-for"),
        platform=h.get("sec-ch-ua-platform"),
        mobile=h.get("sec-ch-ua-mobile"),
        accept=h.get("accept"),
    )


def _changes(request: Request) -> ResponseChanges:
    changes = request.scope.get(_CHANGES)
    if not isinstance(changes, ResponseChanges):
        raise RuntimeError("the sesame middleware is not installed: call sesame.install(app)")
    return changes


class FastAPISesame:
    """The integration: dependencies, login and logout helpers.

    Args:
        url: sesame's base URL (else the environment variable ``SESAME_URL``).
        api_key: an API key with the ``validate`` and ``sessions`` scopes (and ``admin``
            to list or revoke a user's sessions; else ``SESAME_API_KEY``).
        client: an existing :class:`~sesame_client.AsyncSesame` instead of ``url``/``api_key``.
        login_url: where browsers without a session go (unset: 401 JSON).
        trusted_proxies: networks of your reverse proxies (see
            :class:`sesame_client._web.WebSettings`).
        bearer: accept ``Authorization: Bearer <token>`` from API clients.
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        client: AsyncSesame | None = None,
        login_url: str | None = None,
        trusted_proxies: Iterable[str] = (),
        bearer: bool = True,
    ) -> None:
        if client is None:
            url = url or os.environ.get("SESAME_URL")
            api_key = api_key or os.environ.get("SESAME_API_KEY")
            if not url or not api_key:
                raise ValueError("FastAPISesame needs url and api_key (or SESAME_URL/API_KEY)")
            client = AsyncSesame(url, api_key)
        settings = WebSettings.build(login_url, trusted_proxies, bearer)
        self.flow = AsyncFlow(client, settings)

    @property
    def client(self) -> AsyncSesame:
        """The sesame client (for admin calls such as ``list_user``)."""
        return self.flow.client

    def install(self, app: Starlette) -> None:
        """Adds the middleware and the answers to refused sessions and outages to ``app``
        (a FastAPI or Starlette application)."""
        app.add_middleware(SesameMiddleware)
        app.add_exception_handler(SessionRequired, self._refused)
        app.add_exception_handler(SesameUnavailable, _unavailable)

    async def _outcome(self, request: Request) -> AsyncCurrentSession | Refusal | None:
        if _OUTCOME not in request.scope:
            changes = _changes(request)
            request.scope[_OUTCOME] = await self.flow.authenticate(_facts(request), changes)
        return cast("AsyncCurrentSession | Refusal | None", request.scope[_OUTCOME])

    async def require_session(self, request: Request) -> AsyncCurrentSession:
        """Dependency: the live session, or the request is refused (401 JSON, or 303 to
        the login page) and its dead cookie removed."""
        outcome = await self._outcome(request)
        if isinstance(outcome, AsyncCurrentSession):
            return outcome
        raise SessionRequired(outcome or Refusal("invalid", None, "none"))

    async def optional_session(self, request: Request) -> AsyncCurrentSession | None:
        """Dependency: the live session, or ``None`` (a dead cookie is still removed)."""
        outcome = await self._outcome(request)
        return outcome if isinstance(outcome, AsyncCurrentSession) else None

    async def login(
        self,
        request: Request,
        user: str,
        *,
        data: Mapping[str, Any] | None = None,
        cookie: bool = True,
    ) -> Issued:
        """Logs ``user`` in: a new session whose cookie goes out with this response (a
        session the request had is ended). ``cookie=False`` for API clients: hand them
        ``issued.token``."""
        return await self.flow.login(_facts(request), _changes(request), user, data, cookie)

    async def logout(self, request: Request) -> bool:
        """Ends the request's session and removes its cookie; False if there was none."""
        request.scope.pop(_OUTCOME, None)
        return await self.flow.logout(_facts(request), _changes(request))

    def _refused(self, request: Request, exc: Exception) -> Response:
        refusal = cast("SessionRequired", exc).refusal
        target = _web.login_redirect(self.flow.settings, refusal, _facts(request))
        if target is not None:
            return RedirectResponse(target, status_code=303)
        return JSONResponse(refusal.body(), status_code=401)


def _unavailable(request: Request, exc: Exception) -> Response:
    error = cast("SesameUnavailable", exc)
    return JSONResponse(
        dict(_web.UNAVAILABLE_BODY),
        status_code=503,
        headers={"Retry-After": _web.retry_after(error)},
    )
