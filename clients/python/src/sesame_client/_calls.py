"""The API's operations as data: one :class:`Call` per ``/v1`` operation, shared by the
sync and the async client, plus what both do with an answer and a failure.

Keeping the requests, the parsing and the retry rules here (no I/O) means :class:`Sesame`
and :class:`AsyncSesame` differ only in how they wait, and cannot drift apart.

Retry rules (the reason for ``Call.idempotent``):

- A failure before the request left (connection refused, connect or pool timeout) is
  retried for every operation: sesame never saw it.
- A 503 ``overloaded`` and a 408 ``body_timeout`` are retried for every operation too:
  sesame says it did not start the request.
- A failure after it may have arrived (read timeout, dropped connection) and a 503
  ``store_unavailable`` / ``timeout`` are retried only for idempotent operations: get,
  patch (it sets and removes keys: applying it twice changes nothing), end, the cookie
  policy and every admin operation. Create, rotate/login and increment would do it twice;
  validate may have renewed the token, and replaying the old token after its grace
  period ends the session as a token reuse. Those raise at once.
- A ``Retry-After`` longer than ``max_retry_wait`` is not waited for (a web request has
  a user waiting); the error is raised with ``retry_after`` set.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from . import models
from ._base import Settings
from .credentials import Credential, Token
from .errors import (
    BodyTimeout,
    ConnectionFailed,
    Overloaded,
    ProtocolError,
    ServiceTimeout,
    SesameError,
    SesameUnavailable,
    StoreUnavailable,
    error_from_response,
)
from .models import Device

T = TypeVar("T")

#: Longest user agent or hint value sent (characters); longer ones are cut, the same way
#: every time, so the device stays comparable.
MAX_DEVICE_TEXT = 1024
#: Most client hints sent.
MAX_HINTS = 16

TOKEN_HEADER = "Sesame-Token"  # noqa: S105 - a header name
COOKIE_HEADER = "Sesame-Cookie"
DEVICE_UA_HEADER = "Sesame-Device-User-Agent"
DEVICE_IP_HEADER = "Sesame-Device-Ip"
DEVICE_HINTS_HEADER = "Sesame-Device-Hints"


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request to make, and how to read its successful answer."""

    method: str
    path: str
    parse: Callable[[object], T]
    idempotent: bool
    headers: Mapping[str, str]
    body: bytes | None = None


def _visible(text: str) -> str:
    """``text`` as it is sent: visible ASCII and spaces only (others become ``?``), at
    most :data:`MAX_DEVICE_TEXT` characters. Header values cannot carry more, and the
    same rule for headers and bodies keeps one device equal to itself."""
    cut = text[:MAX_DEVICE_TEXT]
    if cut.isascii() and cut.isprintable():
        return cut
    return "".join(c if " " <= c <= "~" else "?" for c in cut)


def normalize_device(device: Device | None) -> Device:
    """The device as sesame will see it (see :func:`_visible`)."""
    if device is None:
        return Device()
    hints = {_visible(k)[:64]: _visible(v) for k, v in list(device.hints.items())[:MAX_HINTS]}
    return Device(
        user_agent=None if device.user_agent is None else _visible(device.user_agent),
        ip=device.ip,
        hints=hints,
    )


def device_headers(device: Device | None) -> dict[str, str]:
    """Decision D1: the device as ``Sesame-Device-*`` headers, on every call that names a
    session (other than create and validate, which carry it in the body)."""
    d = normalize_device(device)
    out: dict[str, str] = {}
    if d.user_agent is not None:
        out[DEVICE_UA_HEADER] = d.user_agent
    if d.ip is not None:
        out[DEVICE_IP_HEADER] = d.ip
    if d.hints:
        out[DEVICE_HINTS_HEADER] = json.dumps(dict(d.hints), separators=(",", ":"))
    return out


def credential_headers(credential: Credential) -> dict[str, str]:
    """``Sesame-Token`` or ``Sesame-Cookie``."""
    if isinstance(credential, Token):
        return {TOKEN_HEADER: credential.value}
    return {COOKIE_HEADER: credential.value}


def _json(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _segment(value: str) -> str:
    """A path segment; an empty one would name another route."""
    if not value:
        raise ValueError("a user or session id must not be empty")
    return quote(value, safe="")


def _session_call(
    method: str,
    path: str,
    parse: Callable[[object], T],
    *,
    idempotent: bool,
    credential: Credential,
    device: Device | None,
    body: Mapping[str, Any] | None = None,
) -> Call[T]:
    headers = credential_headers(credential)
    headers.update(device_headers(device))
    return Call(method, path, parse, idempotent, headers, None if body is None else _json(body))


# ------------------------------------------------------------------ the operations


def create(
    user: str | None, data: Mapping[str, Any] | None, device: Device | None
) -> Call[models.Issued]:
    """``POST /v1/sessions``."""
    body: dict[str, Any] = {"device": normalize_device(device).to_json()}
    if user is not None:
        body["user"] = user
    if data:
        body["data"] = dict(data)
    return Call("POST", "/v1/sessions", models.Issued.from_json, False, {}, _json(body))


def validate(credential: Credential, device: Device | None) -> Call[models.Validated]:
    """``POST /v1/session/validate``: the device goes in the body (D1 keeps it there)."""
    body = _json({"device": normalize_device(device).to_json()})
    return Call(
        "POST",
        "/v1/session/validate",
        models.Validated.from_json,
        False,
        credential_headers(credential),
        body,
    )


def get(credential: Credential, device: Device | None) -> Call[models.Session]:
    """``GET /v1/session``."""
    return _session_call(
        "GET",
        "/v1/session",
        models.Session.from_json,
        idempotent=True,
        credential=credential,
        device=device,
    )


def patch(
    credential: Credential,
    device: Device | None,
    set_: Mapping[str, Any] | None,
    remove: list[str] | None,
    expected_version: int | None,
) -> Call[models.Session]:
    """``PATCH /v1/session``."""
    body: dict[str, Any] = {}
    if set_:
        body["set"] = dict(set_)
    if remove:
        body["remove"] = list(remove)
    if expected_version is not None:
        body["expected_version"] = expected_version
    return _session_call(
        "PATCH",
        "/v1/session",
        models.Session.from_json,
        idempotent=True,
        credential=credential,
        device=device,
        body=body,
    )


def increment(
    credential: Credential, device: Device | None, key: str, by: int
) -> Call[models.Increment]:
    """``POST /v1/session/increment``."""
    return _session_call(
        "POST",
        "/v1/session/increment",
        models.Increment.from_json,
        idempotent=False,
        credential=credential,
        device=device,
        body={"key": key, "by": by},
    )


def rotate(credential: Credential, device: Device | None, user: str | None) -> Call[models.Issued]:
    """``POST /v1/session/rotate`` (with ``user``: log in)."""
    return _session_call(
        "POST",
        "/v1/session/rotate",
        models.Issued.from_json,
        idempotent=False,
        credential=credential,
        device=device,
        body={} if user is None else {"user": user},
    )


def end(credential: Credential, device: Device | None) -> Call[models.LoggedOut]:
    """``DELETE /v1/session``: ending twice is harmless (the second says ``ended=False``)."""
    return _session_call(
        "DELETE",
        "/v1/session",
        models.LoggedOut.from_json,
        idempotent=True,
        credential=credential,
        device=device,
    )


def cookie_policy() -> Call[models.CookiePolicy]:
    """``GET /v1/cookie-policy``."""
    return Call("GET", "/v1/cookie-policy", models.CookiePolicy.from_json, True, {})


def inspect(credential: Credential) -> Call[models.Inspection]:
    """``GET /v1/session/inspect`` (admin)."""
    return _session_call(
        "GET",
        "/v1/session/inspect",
        models.Inspection.from_json,
        idempotent=True,
        credential=credential,
        device=None,
    )


def inspect_id(session_id: str) -> Call[models.Inspection]:
    """``GET /v1/sessions/{id}`` (admin)."""
    path = f"/v1/sessions/{_segment(session_id)}"
    return Call("GET", path, models.Inspection.from_json, True, {})


def revoke_id(session_id: str) -> Call[bool]:
    """``POST /v1/sessions/{id}/revoke`` (admin)."""
    path = f"/v1/sessions/{_segment(session_id)}/revoke"
    return Call("POST", path, models.ended_from_json, True, {})


def list_user(user: str) -> Call[list[models.Session]]:
    """``GET /v1/users/{user}/sessions`` (admin)."""
    path = f"/v1/users/{_segment(user)}/sessions"
    return Call("GET", path, models.sessions_from_json, True, {})


def revoke_user(user: str, except_id: str | None, except_token: str | None) -> Call[list[str]]:
    """``POST /v1/users/{user}/revoke`` (admin)."""
    body: dict[str, Any] = {}
    if except_id is not None:
        body["except_id"] = except_id
    if except_token is not None:
        body["except_token"] = except_token
    path = f"/v1/users/{_segment(user)}/revoke"
    return Call("POST", path, models.revoked_from_json, True, {}, _json(body))


def decode_cookie(cookie: str) -> Call[models.CookieInspection]:
    """``POST /v1/cookies/decode`` (admin)."""
    body = _json({"cookie": cookie})
    return Call("POST", "/v1/cookies/decode", models.CookieInspection.from_json, True, {}, body)


def cleanup() -> Call[models.CleanupReport]:
    """``POST /v1/cleanup`` (admin)."""
    return Call("POST", "/v1/cleanup", models.CleanupReport.from_json, True, {})


# ------------------------------------------------------------------ answers and retries


def read_answer(call: Call[T], response: httpx.Response) -> T:
    """The parsed result of a 2xx answer; raises the error of any other."""
    status = response.status_code
    content = response.content
    try:
        body: object = json.loads(content) if content else None
    except ValueError:
        body = None
        if 200 <= status < 300:
            raise ProtocolError(f"sesame answered {status} without JSON", status=status) from None
    if 200 <= status < 300:
        return call.parse(body)
    raise error_from_response(status, body, response.headers.get("retry-after"))


def next_wait(call: Call[Any], failure: Exception, attempt: int, settings: Settings) -> float:
    """How long to wait before attempt ``attempt + 1`` after ``failure`` (a transport error
    or an error answer); raises the error to give the caller when there is no retry."""
    retries, cap = settings.retries, settings.max_retry_wait
    if isinstance(failure, httpx.TransportError):
        wait = transport_retry_wait(call, failure, attempt, retries, cap)
        if wait is None:
            raise ConnectionFailed(
                f"sesame at {settings.base_url} did not answer: {type(failure).__name__}"
            ) from failure
        return wait
    assert isinstance(failure, SesameError)
    wait = retry_wait(call, failure, attempt, retries, cap)
    if wait is None:
        raise failure
    return wait


def sent_for_sure_not(exc: BaseException) -> bool:
    """True for transport failures that happen before any byte of the request left."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def backoff(attempt: int, cap: float) -> float:
    """Exponential backoff with jitter: ~50 ms, ~100 ms, ... at most ``cap``."""
    base: float = min(cap, 0.05 * (2**attempt))
    return base * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret


def retry_wait(
    call: Call[Any], error: SesameError, attempt: int, retries: int, max_wait: float
) -> float | None:
    """How long to wait before retrying after ``error``, or ``None`` to raise it."""
    if attempt >= retries:
        return None
    # Sesame did not start these: safe to send again whatever the operation.
    not_started = isinstance(error, Overloaded | BodyTimeout)
    retryable = not_started or (
        call.idempotent
        and (
            isinstance(error, StoreUnavailable | ServiceTimeout) or type(error) is SesameUnavailable
        )
    )
    if not retryable:
        return None
    assert isinstance(error, SesameUnavailable)
    wait = error.retry_after if error.retry_after is not None else backoff(attempt, max_wait)
    return wait if wait <= max_wait else None


def transport_retry_wait(
    call: Call[Any], exc: BaseException, attempt: int, retries: int, max_wait: float
) -> float | None:
    """How long to wait before retrying after a transport failure, or ``None``."""
    if attempt >= retries:
        return None
    if call.idempotent or sent_for_sure_not(exc):
        return backoff(attempt, max_wait)
    return None
