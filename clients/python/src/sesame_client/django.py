"""Django integration: ``SesameMiddleware`` and ``@session_required``.

Setup, in ``settings.py``::

    SESAME = {"URL": "http://127.0.0.1:7700", "API_KEY": KEY, "LOGIN_URL": "/login"}
    MIDDLEWARE = [..., "sesame_client.django.SesameMiddleware"]

and in views::

    from sesame_client.django import session_required, session_of

    @session_required
    def profile(request):
        return HttpResponse(f"hello {session_of(request).user}")

(``request.sesame`` is the same object.) Optional settings: ``TRUSTED_PROXIES`` (networks of
your reverse proxies), ``BEARER`` (accept ``Authorization: Bearer``, default ``True``).
The middleware puts sesame's ``Set-Cookie`` values on the response (a renewed cookie, a
removal after a refused session or a logout) exactly as sesame wrote them, and answers a
sesame outage with 503 and ``Retry-After``, never 500. Views are sync (Django's async
views would need :class:`~sesame_client.AsyncSesame`; not provided yet).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from http.cookies import Morsel
from typing import Any, Concatenate, ParamSpec

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect, JsonResponse

from . import _web
from ._flow import CurrentSession, SyncFlow
from ._web import Refusal, RequestFacts, ResponseChanges, WebSettings
from .client import Sesame
from .errors import SesameUnavailable
from .models import Issued

__all__ = [
    "CurrentSession",
    "SesameMiddleware",
    "current_session",
    "login",
    "logout",
    "session_of",
    "session_required",
]

P = ParamSpec("P")

_STATE = "sesame.state"
_UNSET = object()


@dataclass(slots=True)
class _RequestState:
    flow: SyncFlow
    changes: ResponseChanges
    outcome: object = _UNSET


class _RawMorsel(Morsel[str]):
    """A cookie whose ``Set-Cookie`` line is sesame's own value, unchanged (Django writes
    ``Set-Cookie`` only from ``response.cookies``)."""

    def __init__(self, set_cookie: str) -> None:
        super().__init__()
        name, _, rest = set_cookie.partition("=")
        value = rest.split(";", 1)[0]
        self.set(name, value, value)
        self._raw = set_cookie

    def OutputString(self, attrs: Container[str] | None = None) -> str:  # noqa: N802 - Morsel's API
        return self._raw


def _flow_from_settings() -> SyncFlow:
    conf: Mapping[str, Any] = getattr(settings, "SESAME", {})
    url, api_key = conf.get("URL"), conf.get("API_KEY")
    if not url or not api_key:
        raise ValueError('settings.SESAME needs "URL" and "API_KEY"')
    web = WebSettings.build(
        login_url=conf.get("LOGIN_URL"),
        trusted_proxies=conf.get("TRUSTED_PROXIES", ()),
        bearer=bool(conf.get("BEARER", True)),
    )
    return SyncFlow(Sesame(url, api_key), web)


def _state(request: HttpRequest) -> _RequestState:
    state = request.META.get(_STATE)
    if not isinstance(state, _RequestState):
        raise RuntimeError('add "sesame_client.django.SesameMiddleware" to settings.MIDDLEWARE')
    return state


def _facts(request: HttpRequest) -> RequestFacts:
    h = request.headers
    return RequestFacts(
        method=request.method or "GET",
        path=request.get_full_path(),
        host=request.get_host(),
        cookie_header=h.get("Cookie"),
        authorization=h.get("Authorization"),
        user_agent=h.get("User-Agent"),
        peer=request.META.get("REMOTE_ADDR"),
        forwarded_for=h.get("X-Forwarded-For"),
        platform=h.get("Sec-CH-UA-Platform"),
        mobile=h.get("Sec-CH-UA-Mobile"),
        accept=h.get("Accept"),
    )


class SesameMiddleware:
    """Carries sesame's cookie changes to the response and answers outages with 503."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.flow = _flow_from_settings()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        state = _RequestState(self.flow, ResponseChanges())
        request.META[_STATE] = state
        response = self.get_response(request)
        for value in state.changes.set_cookies:
            morsel = _RawMorsel(value)
            response.cookies[morsel.key] = morsel
        for name, value in state.changes.headers.items():
            response[name] = value
        if state.changes.set_cookies and not response.has_header("Cache-Control"):
            # A response that sets a session cookie must not be stored by a cache.
            response["Cache-Control"] = "no-store"
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> JsonResponse | None:
        """A sesame outage anywhere in a view: 503 with ``Retry-After``."""
        if isinstance(exception, SesameUnavailable):
            response = JsonResponse(dict(_web.UNAVAILABLE_BODY), status=503)
            response["Retry-After"] = _web.retry_after(exception)
            return response
        return None


def _outcome(request: HttpRequest) -> CurrentSession | Refusal | None:
    state = _state(request)
    if state.outcome is _UNSET:
        state.outcome = state.flow.authenticate(_facts(request), state.changes)
    outcome = state.outcome
    assert outcome is None or isinstance(outcome, CurrentSession | Refusal)
    return outcome


def current_session(request: HttpRequest) -> CurrentSession | None:
    """The request's live session, or ``None`` (validated once per request)."""
    outcome = _outcome(request)
    return outcome if isinstance(outcome, CurrentSession) else None


def session_of(request: HttpRequest) -> CurrentSession:
    """The session ``@session_required`` found (typed access to ``request.sesame``)."""
    found = current_session(request)
    if found is None:
        raise RuntimeError("session_of() outside a @session_required view")
    return found


def session_required(
    view: Callable[Concatenate[HttpRequest, P], HttpResponseBase],
) -> Callable[Concatenate[HttpRequest, P], HttpResponseBase]:
    """Runs ``view`` only with a live session, on ``request.sesame``. Without one: a
    redirect to ``LOGIN_URL`` (browsers, GET) or 401 JSON, and the dead cookie removed."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
        outcome = _outcome(request)
        if not isinstance(outcome, CurrentSession):
            refusal = outcome or Refusal("invalid", None, "none")
            target = _web.login_redirect(_state(request).flow.settings, refusal, _facts(request))
            if target is not None:
                return HttpResponseRedirect(target, status=303)
            return JsonResponse(refusal.body(), status=401)
        request.sesame = outcome  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


def login(
    request: HttpRequest,
    user: str,
    *,
    data: Mapping[str, Any] | None = None,
    cookie: bool = True,
) -> Issued:
    """Logs ``user`` in: a new session whose cookie goes out with the response (a session
    the request had is ended). ``cookie=False`` for API clients: hand them ``issued.token``."""
    state = _state(request)
    return state.flow.login(_facts(request), state.changes, user, data, cookie)


def logout(request: HttpRequest) -> bool:
    """Ends the request's session and removes its cookie; False if there was none."""
    state = _state(request)
    state.outcome = _UNSET
    return state.flow.logout(_facts(request), state.changes)


def client(request: HttpRequest) -> Sesame:
    """The sesame client (for admin calls such as ``list_user``)."""
    return _state(request).flow.client
