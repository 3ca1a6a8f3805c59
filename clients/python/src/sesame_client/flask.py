"""Flask integration: ``@session_required`` puts the live session on ``flask.g.session``.

Setup::

    from sesame_client.flask import FlaskSesame, session_required

    sesame = FlaskSesame(app, url="http://127.0.0.1:7700", api_key=KEY, login_url="/login")

    @app.get("/profile")
    @session_required
    def profile():
        return f"hello {g.session.user}"

The configuration may also come from ``app.config``: ``SESAME_URL``, ``SESAME_API_KEY``,
``SESAME_LOGIN_URL``, ``SESAME_TRUSTED_PROXIES``; the URL and key also from the
environment variables of the same names. Every response then carries what sesame
said about the cookie (a renewed cookie, a removal after a refused session or a logout),
and a sesame outage is a 503 with ``Retry-After``, never a 500. The rules (which
credential, the device, trusted proxies) are in :mod:`sesame_client._web`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ParamSpec, TypeVar, cast

from flask import Flask, g, jsonify, redirect, request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from . import _web
from ._flow import CurrentSession, SyncFlow
from ._web import Refusal, RequestFacts, ResponseChanges, WebSettings
from .client import Sesame
from .errors import SesameUnavailable
from .models import Issued

__all__ = ["CurrentSession", "FlaskSesame", "current_session", "session_required"]

P = ParamSpec("P")
R = TypeVar("R")

_CHANGES = "sesame.changes"
_OUTCOME = "sesame.outcome"


class FlaskSesame:
    """The extension: one per app.

    Args:
        app: the app (or call :meth:`init_app` later).
        url: sesame's base URL (else ``SESAME_URL`` in ``app.config``, else in the
            environment).
        api_key: an API key with the ``validate`` and ``sessions`` scopes, and ``admin``
            for listing or revoking a user's sessions (else ``SESAME_API_KEY``, the same
            way).
        client: an existing :class:`~sesame_client.Sesame` instead of ``url``/``api_key``.
        login_url: where browsers without a session go (else ``SESAME_LOGIN_URL``; unset:
            401 JSON).
        trusted_proxies: networks of your reverse proxies (else ``SESAME_TRUSTED_PROXIES``);
            see :class:`sesame_client._web.WebSettings`.
        bearer: accept ``Authorization: Bearer <token>`` from API clients.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        url: str | None = None,
        api_key: str | None = None,
        client: Sesame | None = None,
        login_url: str | None = None,
        trusted_proxies: Iterable[str] | None = None,
        bearer: bool = True,
    ) -> None:
        self._options = (url, api_key, client, login_url, trusted_proxies, bearer)
        self._flow: SyncFlow | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Registers the extension on ``app``."""
        url, api_key, client, login_url, proxies, bearer = self._options
        if client is None:
            url = url or app.config.get("SESAME_URL") or os.environ.get("SESAME_URL")
            api_key = (
                api_key or app.config.get("SESAME_API_KEY") or os.environ.get("SESAME_API_KEY")
            )
            if not url or not api_key:
                raise ValueError("FlaskSesame needs url and api_key (or SESAME_URL/API_KEY)")
            client = Sesame(url, api_key)
        settings = WebSettings.build(
            login_url=login_url or app.config.get("SESAME_LOGIN_URL"),
            trusted_proxies=proxies or app.config.get("SESAME_TRUSTED_PROXIES", ()),
            bearer=bearer,
        )
        self._flow = SyncFlow(client, settings)
        app.extensions["sesame"] = self
        app.after_request(_apply_changes)
        app.register_error_handler(SesameUnavailable, _unavailable)

    @property
    def client(self) -> Sesame:
        """The sesame client (for admin calls such as ``list_user``)."""
        return self.flow.client

    @property
    def flow(self) -> SyncFlow:
        """The request flows."""
        if self._flow is None:
            raise RuntimeError("FlaskSesame.init_app(app) has not been called")
        return self._flow

    def current(self) -> CurrentSession | None:
        """The request's live session, or ``None`` (validated once per request)."""
        outcome = _outcome(self.flow)
        return outcome if isinstance(outcome, CurrentSession) else None

    def login(
        self, user: str, *, data: Mapping[str, Any] | None = None, cookie: bool = True
    ) -> Issued:
        """Logs ``user`` in: a new session whose cookie goes out with this response (a
        session the request had is ended). ``cookie=False`` for API clients: hand them
        ``issued.token`` instead."""
        return self.flow.login(_facts(), _changes(), user, data, cookie)

    def logout(self) -> bool:
        """Ends the request's session and removes its cookie; False if there was none."""
        request.environ.pop(_OUTCOME, None)
        return self.flow.logout(_facts(), _changes())


def _ext() -> FlaskSesame:
    from flask import current_app

    ext = current_app.extensions.get("sesame")
    if not isinstance(ext, FlaskSesame):
        raise RuntimeError("FlaskSesame is not set up on this app")
    return ext


def _facts() -> RequestFacts:
    h = request.headers
    return RequestFacts(
        method=request.method,
        path=request.full_path.rstrip("?"),
        host=request.host,
        cookie_header=h.get("Cookie"),
        authorization=h.get("Authorization"),
        user_agent=h.get("User-Agent"),
        peer=request.remote_addr,
        forwarded_for=h.get("X-Forwarded-For"),
        platform=h.get("Sec-CH-UA-Platform"),
        mobile=h.get("Sec-CH-UA-Mobile"),
        accept=h.get("Accept"),
    )


def _changes() -> ResponseChanges:
    changes = request.environ.get(_CHANGES)
    if not isinstance(changes, ResponseChanges):
        changes = ResponseChanges()
        request.environ[_CHANGES] = changes
    return changes


def _outcome(flow: SyncFlow) -> CurrentSession | Refusal | None:
    if _OUTCOME not in request.environ:
        request.environ[_OUTCOME] = flow.authenticate(_facts(), _changes())
    return cast("CurrentSession | Refusal | None", request.environ[_OUTCOME])


def _apply_changes(response: Response) -> Response:
    changes = request.environ.get(_CHANGES)
    if isinstance(changes, ResponseChanges):
        for value in changes.set_cookies:
            response.headers.add("Set-Cookie", value)
        for name, value in changes.headers.items():
            response.headers[name] = value
        if changes.set_cookies and "Cache-Control" not in response.headers:
            # A response that sets a session cookie must not be stored by a cache.
            response.headers["Cache-Control"] = "no-store"
    return response


def _unavailable(error: SesameUnavailable) -> ResponseReturnValue:
    return jsonify(_web.UNAVAILABLE_BODY), 503, {"Retry-After": _web.retry_after(error)}


def _refused(refusal: Refusal | None) -> ResponseReturnValue:
    refusal = refusal or Refusal("invalid", None, "none")
    target = _web.login_redirect(_ext().flow.settings, refusal, _facts())
    if target is not None:
        return redirect(target, 303)
    return jsonify(refusal.body()), 401


def current_session() -> CurrentSession | None:
    """The request's live session, or ``None`` (for pages that work either way)."""
    return _ext().current()


def session_required(view: Callable[P, R]) -> Callable[P, R | ResponseReturnValue]:
    """Runs ``view`` only with a live session, on ``flask.g.session``
    (a :class:`~sesame_client._flow.CurrentSession`). Without one: a redirect to the
    login URL (browsers, GET) or 401 JSON, and the dead cookie is removed."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | ResponseReturnValue:
        outcome = _outcome(_ext().flow)
        if not isinstance(outcome, CurrentSession):
            return _refused(outcome)
        g.session = outcome
        return view(*args, **kwargs)

    return wrapper
