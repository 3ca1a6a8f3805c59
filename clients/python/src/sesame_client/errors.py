"""Exceptions: one class per error ``code`` of the sesame API, in a few families.

Every answer of ``sesame serve`` that is not a success is JSON with a stable ``code``; the
client raises the class registered for that code (:data:`ERRORS_BY_CODE`), so callers match
on types instead of strings. The families say what an app should do:

- :class:`SessionRefused` (HTTP 401 about the session): the user is not logged in; remove the
  cookie (``clear_cookie`` is the complete ``Set-Cookie`` value for that) and send them to
  the login page. :class:`SessionEnded` carries the ``reason`` the session ended.
- :class:`SesameUnavailable`: sesame cannot answer now (store down or full, a timeout,
  sesame overloaded, the service unreachable, or this app server blocked for sending too
  many invalid tokens). Not the user's fault and not a bug in the app: answer 503, retry later.
- :class:`ApiKeyError`: the app's API key is missing, unknown or lacks a scope: a
  configuration error.
- The others are errors in the request the app sent (:class:`BadRequest`,
  :class:`Conflict`, :class:`LimitReached`, ...).

An unknown code (a newer server) raises plain :class:`ApiError`, so nothing is lost.
"""

from __future__ import annotations

__all__ = [
    "ERRORS_BY_CODE",
    "AmbiguousCredential",
    "AmbiguousDevice",
    "ApiError",
    "ApiKeyError",
    "BadRequest",
    "BodyTimeout",
    "Conflict",
    "ConnectionFailed",
    "CookiePolicyError",
    "CookiesDisabled",
    "DataTooLarge",
    "DbscFailed",
    "DeviceMismatch",
    "Forbidden",
    "HeadersTooLarge",
    "InternalError",
    "InvalidApiKey",
    "InvalidJson",
    "InvalidKey",
    "InvalidRequest",
    "InvalidSession",
    "InvalidSessionId",
    "InvalidUserId",
    "InvalidValue",
    "LimitReached",
    "MethodNotAllowed",
    "MissingApiKey",
    "NotAnInteger",
    "NotFound",
    "Overloaded",
    "PayloadTooLarge",
    "ProtocolError",
    "SecurityEvent",
    "ServiceTimeout",
    "SesameError",
    "SesameUnavailable",
    "SessionEnded",
    "SessionEvicted",
    "SessionExpired",
    "SessionLoggedOut",
    "SessionRefused",
    "SessionRevoked",
    "SessionRotated",
    "StoreFull",
    "StoreUnavailable",
    "TokenReuse",
    "TooManyInvalidTokens",
    "UnsupportedMediaType",
    "error_from_response",
]


class SesameError(Exception):
    """Base of every error this package raises."""


class SesameUnavailable(SesameError):
    """Sesame cannot serve the request now; retry after ``retry_after`` seconds (if known).

    Integrations answer these with 503 and ``Retry-After``, never 500.
    """

    retry_after: float | None

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConnectionFailed(SesameUnavailable):
    """Sesame could not be reached, or did not answer within the timeout."""


class ProtocolError(SesameError):
    """Sesame answered something that is not the documented API (a proxy page, a wrong URL)."""

    status: int

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class CookiePolicyError(SesameError):
    """The service's cookie policy cannot be used for this request.

    Raised when the policy is in development mode (a cookie without ``Secure``) and the
    request's host is not ``localhost``, ``127.0.0.1`` or ``[::1]``: development settings
    must not reach a public host.
    """


class ApiError(SesameError):
    """An error answer of the API: HTTP ``status``, stable ``code`` and ``message``.

    ``reason`` is set for an ended session, ``current_version`` for a conflict,
    ``clear_cookie`` on a 401 refusing a presented session, ``retry_after`` when the answer
    had a ``Retry-After`` header.
    """

    status: int
    code: str
    message: str
    reason: str | None
    current_version: int | None
    clear_cookie: str | None
    retry_after: float | None

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        reason: str | None = None,
        current_version: int | None = None,
        clear_cookie: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.reason = reason
        self.current_version = current_version
        self.clear_cookie = clear_cookie
        self.retry_after = retry_after


# ------------------------------------------------------------------ 401: the session


class SessionRefused(ApiError):
    """401: no live session for the presented token or cookie. Remove the cookie
    (``clear_cookie``) and log the user in again."""


class InvalidSession(SessionRefused):
    """``invalid``: unknown, malformed or forged token or cookie (or none was sent)."""


class SessionEnded(SessionRefused):
    """The session existed and has ended; ``reason`` says why (``expired_idle``,
    ``expired_absolute``, ``cookie_expired``, ``logged_out``, ``revoked``, ``evicted``,
    ``rotated``, ``device_mismatch``, ``token_reuse``, ``security_event``,
    ``dbsc_failed``)."""


class SessionExpired(SessionEnded):
    """``expired``: idle or absolute timeout, or a cookie older than its maximum age."""


class SessionLoggedOut(SessionEnded):
    """``logged_out``: the user logged out."""


class SessionRevoked(SessionEnded):
    """``revoked``: an admin, the user ("log out everywhere") or an account change ended it."""


class SessionEvicted(SessionEnded):
    """``evicted``: the per-user cap made room for a newer session."""


class SessionRotated(SessionEnded):
    """``rotated``: replaced by a new token (login, privilege change, renewal)."""


class DeviceMismatch(SessionEnded):
    """``device_mismatch``: presented from another device than the one it is bound to."""


class TokenReuse(SessionEnded):
    """``token_reuse``: a rotated token was used after its grace period."""


class SecurityEvent(SessionEnded):
    """``security_event``: ended for another security reason."""


class DbscFailed(SessionEnded):
    """``dbsc_failed``: a DBSC proof failed: the session's cookie was used without the
    browser's key (a copied cookie), so the session was ended for everyone."""


# ------------------------------------------------------------------ the API key


class ApiKeyError(ApiError):
    """The app's API key is missing, unknown, or lacks the scope: fix the configuration."""


class MissingApiKey(ApiKeyError):
    """``missing_api_key`` (401)."""


class InvalidApiKey(ApiKeyError):
    """``invalid_api_key`` (401)."""


class Forbidden(ApiKeyError):
    """``forbidden`` (403): the key lacks the scope the operation needs."""


# ------------------------------------------------------------------ 400 and other request errors


class BadRequest(ApiError):
    """400: a field or the body is invalid."""


class InvalidJson(BadRequest):
    """``invalid_json``."""


class InvalidUserId(BadRequest):
    """``invalid_user_id``."""


class InvalidKey(BadRequest):
    """``invalid_key``: a data key is not allowed."""


class InvalidSessionId(BadRequest):
    """``invalid_session_id``."""


class InvalidValue(BadRequest):
    """``invalid_value``."""


class AmbiguousCredential(BadRequest):
    """``ambiguous_credential``: both a token and a cookie were sent."""


class AmbiguousDevice(BadRequest):
    """``ambiguous_device``: the device was sent both as headers and in the body."""


class CookiesDisabled(BadRequest):
    """``cookies_disabled``: the service has no cookie keys."""


class InvalidRequest(BadRequest):
    """``invalid_request``."""


class Conflict(ApiError):
    """``conflict`` (409): ``expected_version`` is stale; ``current_version`` is the session's."""


class LimitReached(ApiError):
    """``limit_reached`` (409): the user has the maximum number of sessions (``reject_new``)."""


class PayloadTooLarge(ApiError):
    """``payload_too_large`` (413): the request body is over the service's limit."""


class DataTooLarge(ApiError):
    """``data_too_large`` (413): the session data would be over the policy's limit."""


class UnsupportedMediaType(ApiError):
    """``unsupported_media_type`` (415)."""


class NotAnInteger(ApiError):
    """``not_an_integer`` (422): ``increment`` on a key that holds no integer."""


class HeadersTooLarge(ApiError):
    """``headers_too_large`` (431)."""


class NotFound(ApiError):
    """``not_found`` (404): no such endpoint (a wrong base URL?)."""


class MethodNotAllowed(ApiError):
    """``method_not_allowed`` (405)."""


class InternalError(ApiError):
    """``internal`` (500): a bug in sesame; its log has the details."""


# ------------------------------------------------------------------ unavailable


class StoreUnavailable(ApiError, SesameUnavailable):
    """``store_unavailable`` (503): the session store did not answer; ``retry_after``."""


class StoreFull(ApiError, SesameUnavailable):
    """``store_full`` (503): the store or its disk is full."""


class ServiceTimeout(ApiError, SesameUnavailable):
    """``timeout`` (503): sesame took longer than its request timeout."""


class Overloaded(ApiError, SesameUnavailable):
    """``overloaded`` (503): sesame had no room for the request within its queue timeout
    and did not start it (so retrying is safe for every operation)."""


class BodyTimeout(ApiError, SesameUnavailable):
    """``body_timeout`` (408): the request's body did not reach sesame in time (a slow or
    broken network between the app and sesame); sesame did not act on it."""


class TooManyInvalidTokens(ApiError, SesameUnavailable):
    """``too_many_invalid_tokens`` (429): this app server's address sent too many invalid
    tokens and is blocked for ``retry_after`` seconds."""


ERRORS_BY_CODE: dict[str, type[ApiError]] = {
    "invalid": InvalidSession,
    "expired": SessionExpired,
    "logged_out": SessionLoggedOut,
    "revoked": SessionRevoked,
    "evicted": SessionEvicted,
    "rotated": SessionRotated,
    "device_mismatch": DeviceMismatch,
    "token_reuse": TokenReuse,
    "security_event": SecurityEvent,
    "dbsc_failed": DbscFailed,
    "missing_api_key": MissingApiKey,
    "invalid_api_key": InvalidApiKey,
    "forbidden": Forbidden,
    "invalid_json": InvalidJson,
    "invalid_user_id": InvalidUserId,
    "invalid_key": InvalidKey,
    "invalid_session_id": InvalidSessionId,
    "invalid_value": InvalidValue,
    "ambiguous_credential": AmbiguousCredential,
    "ambiguous_device": AmbiguousDevice,
    "cookies_disabled": CookiesDisabled,
    "invalid_request": InvalidRequest,
    "conflict": Conflict,
    "limit_reached": LimitReached,
    "payload_too_large": PayloadTooLarge,
    "data_too_large": DataTooLarge,
    "unsupported_media_type": UnsupportedMediaType,
    "not_an_integer": NotAnInteger,
    "headers_too_large": HeadersTooLarge,
    "not_found": NotFound,
    "method_not_allowed": MethodNotAllowed,
    "internal": InternalError,
    "store_unavailable": StoreUnavailable,
    "store_full": StoreFull,
    "timeout": ServiceTimeout,
    "overloaded": Overloaded,
    "body_timeout": BodyTimeout,
    "too_many_invalid_tokens": TooManyInvalidTokens,
}


def _opt_str(body: dict[str, object], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) else None


def error_from_response(status: int, body: object, retry_after: str | None) -> SesameError:
    """The exception for an error answer: ``status``, its parsed JSON ``body`` and its
    ``Retry-After`` header.

    A body that is not the API's error shape is a :class:`ProtocolError`, or a
    :class:`SesameUnavailable` for a 502/503/504 from something in front of sesame.
    """
    wait: float | None = None
    if retry_after is not None:
        try:
            wait = max(0.0, float(retry_after))
        except ValueError:
            wait = None
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        if status in (502, 503, 504):
            return SesameUnavailable(f"sesame answered {status}", retry_after=wait)
        return ProtocolError(f"sesame answered {status} without an API error body", status=status)
    code: str = body["code"]
    message = _opt_str(body, "message") or code
    version = body.get("current_version")
    cls = ERRORS_BY_CODE.get(code)
    if cls is None:
        # A code this client does not know: keep the family by status.
        cls = SessionRefused if status == 401 else ApiError
    return cls(
        status,
        code,
        message,
        reason=_opt_str(body, "reason"),
        current_version=version if isinstance(version, int) else None,
        clear_cookie=_opt_str(body, "clear_cookie"),
        retry_after=wait,
    )
