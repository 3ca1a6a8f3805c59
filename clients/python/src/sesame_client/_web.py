"""What every framework integration does, without a framework: read the credential and
the device from a request, validate, and collect what the response must carry.

The integrations (:mod:`.flask`, :mod:`.fastapi`, :mod:`.django`) only translate their
request into :class:`RequestFacts` and apply :class:`ResponseChanges` to their response,
so the security rules live here once:

- **Which credential.** ``Authorization: Bearer <token>`` (API clients) wins over the
  cookie: it cannot be sent cross-site, a cookie can. The cookie is the one named by the
  service's cookie policy (decision D2, cached at most 60 s). A cookie name that appears
  twice is cookie tossing (a sibling domain planted one): neither is used.
- **The device** (decision D1) goes with every call: the ``User-Agent``, the client IP
  from the socket, or, when the socket peer is a configured trusted proxy, the
  right-most ``X-Forwarded-For`` address that is not a trusted proxy (left-most entries
  are whatever the client wrote), and the ``Sec-CH-UA-Platform`` / ``-Mobile`` hints.
- **Cookies come from sesame.** ``set_cookie`` (login, renewal, rotation) and
  ``clear_cookie`` (logout, a refused session) are sent as sesame wrote them, so no app
  renders a cookie attribute itself.
- **Development mode** (a cookie without ``Secure``) only on ``localhost``,
  ``127.0.0.1`` and ``[::1]``: any other host raises
  :class:`~sesame_client.errors.CookiePolicyError`.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from .credentials import Cookie, Credential, Token
from .errors import CookiePolicyError, SesameUnavailable, SessionRefused
from .models import CookiePolicy, Device, Issued, Session, Validated

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Longest cookie value or bearer token sent to sesame; longer ones are refused here.
MAX_CREDENTIAL = 4096
#: ``X-Forwarded-For`` entries looked at, from the right.
MAX_FORWARDED_HOPS = 32
#: The response header that hands a renewed token to an API (bearer) client.
RENEWED_TOKEN_HEADER = "Sesame-Renewed-Token"  # noqa: S105 - a header name


@dataclass(frozen=True, slots=True)
class WebSettings:
    """An integration's settings.

    Args:
        login_url: where a browser without a live session is sent (303); without it the
            answer is 401 JSON. API clients (bearer) always get 401.
        trusted_proxies: networks of the reverse proxies in front of the app (``"10.0.0.0/8"``,
            ``"127.0.0.1"``). Only when the socket peer is one of them is
            ``X-Forwarded-For`` read. Empty (the default): the socket peer is the client.
        bearer: accept ``Authorization: Bearer <session token>`` (default on).
    """

    login_url: str | None = None
    trusted_proxies: tuple[IpNetwork, ...] = ()
    bearer: bool = True

    @classmethod
    def build(
        cls, login_url: str | None = None, trusted_proxies: Iterable[str] = (), bearer: bool = True
    ) -> WebSettings:
        """Settings from plain values; a proxy that is no network raises ``ValueError``."""
        nets = tuple(ipaddress.ip_network(p.strip(), strict=False) for p in trusted_proxies)
        if login_url is not None and not login_url.startswith("/"):
            raise ValueError("login_url must be a path on this site, starting with /")
        return cls(login_url=login_url, trusted_proxies=nets, bearer=bearer)


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the integrations read from a request (headers as sent, ``None`` if absent)."""

    method: str
    path: str
    host: str | None
    cookie_header: str | None
    authorization: str | None
    user_agent: str | None
    peer: str | None
    forwarded_for: str | None
    platform: str | None = None
    mobile: str | None = None
    accept: str | None = None


@dataclass(slots=True)
class ResponseChanges:
    """What the response must carry: ``Set-Cookie`` values and other headers."""

    set_cookies: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Found:
    """A credential read from the request, and where it came from."""

    credential: Credential
    via: Literal["cookie", "bearer"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """No live session: the answer the integration gives (401 or a redirect)."""

    code: str
    reason: str | None
    via: Literal["cookie", "bearer", "none"]

    def body(self) -> dict[str, Any]:
        """The 401 JSON body."""
        return {"error": "session_required", "code": self.code, "reason": self.reason}


# ------------------------------------------------------------------ reading a request


def _parse_ip(text: str | None) -> IpAddress | None:
    if not text:
        return None
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[::1]:1234"
        text = text[1 : text.index("]")]
    text = text.split("%", 1)[0]  # no zone index
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def client_ip(
    peer: str | None, forwarded_for: str | None, trusted: tuple[IpNetwork, ...]
) -> str | None:
    """The end user's address: the socket peer, unless it is a trusted proxy; then the
    right-most ``X-Forwarded-For`` entry that is not a trusted proxy (or the left-most, if
    all are). A malformed entry stops the walk at the last trusted hop."""
    ip = _parse_ip(peer)
    if ip is None:
        return None

    def is_trusted(addr: IpAddress) -> bool:
        return any(addr.version == n.version and addr in n for n in trusted)

    if not trusted or not is_trusted(ip) or not forwarded_for:
        return str(ip)
    hops = forwarded_for[: 64 * MAX_FORWARDED_HOPS].split(",")[-MAX_FORWARDED_HOPS:]
    for hop in reversed(hops):
        addr = _parse_ip(hop)
        if addr is None:
            break
        ip = addr
        if not is_trusted(addr):
            break
    return str(ip)


def _hint(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value[:64] or None


def device_of(facts: RequestFacts, settings: WebSettings) -> Device:
    """The end user's device (decision D1)."""
    hints = {
        name: value
        for name, value in (("platform", _hint(facts.platform)), ("mobile", _hint(facts.mobile)))
        if value is not None
    }
    return Device(
        user_agent=facts.user_agent,
        ip=client_ip(facts.peer, facts.forwarded_for, settings.trusted_proxies),
        hints=hints,
    )


def cookie_values(header: str | None, name: str) -> list[str]:
    """The values of every cookie called ``name`` in a ``Cookie`` header."""
    if not header:
        return []
    out = []
    for pair in header.split(";"):
        key, sep, value = pair.partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            out.append(value)
    return out


def _sendable(value: str) -> bool:
    return 0 < len(value) <= MAX_CREDENTIAL and value.isascii() and value.isprintable()


def find_credential(
    facts: RequestFacts, cookie_name: str, settings: WebSettings
) -> Found | Refusal | None:
    """The request's session credential, a local refusal (a tossed or unusable cookie),
    or ``None`` when it presents none."""
    if settings.bearer and facts.authorization:
        scheme, _, value = facts.authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            value = value.strip()
            if not _sendable(value):
                return Refusal("invalid", None, "bearer")
            return Found(Token(value), "bearer")
    values = [v for v in cookie_values(facts.cookie_header, cookie_name) if v]
    if not values:
        return None
    if len(values) > 1 or not _sendable(values[0]):
        return Refusal("invalid", None, "cookie")
    return Found(Cookie(values[0]), "cookie")


def is_loopback_host(host: str | None) -> bool:
    """``localhost``, ``127.0.0.1`` or ``[::1]``, with or without a port."""
    if not host:
        return False
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] == "[::1"
    if host == "::1":
        return True
    return host.rsplit(":", 1)[0] in ("localhost", "127.0.0.1")


def check_host(policy: CookiePolicy, host: str | None) -> None:
    """Refuses a development-mode policy on any host but loopback."""
    if policy.development and not is_loopback_host(host):
        raise CookiePolicyError(
            f"sesame's cookie policy is in development mode (no Secure); it is for "
            f"localhost only, and this request is for {host!r}"
        )


# ------------------------------------------------------------------ answers


def refusal_from(error: SessionRefused, found: Found, changes: ResponseChanges) -> Refusal:
    """A refusal from sesame's 401: the cookie it names is dead, so remove it."""
    if found.via == "cookie" and error.clear_cookie:
        changes.set_cookies.append(error.clear_cookie)
    return Refusal(error.code, error.reason, found.via)


def login_redirect(settings: WebSettings, refusal: Refusal, facts: RequestFacts) -> str | None:
    """Where to send a browser without a session (``login_url?next=<path>``), or ``None``
    for a 401 JSON answer: without a login URL, for API clients (bearer), and for anything
    but a page navigation (a ``GET`` that accepts ``text/html``): a script's ``fetch``
    should learn the ``code`` and ``reason``, not follow a redirect to a form."""
    navigation = facts.method == "GET" and "text/html" in (facts.accept or "")
    if settings.login_url is None or refusal.via == "bearer" or not navigation:
        return None
    if facts.path.startswith("/") and not facts.path.startswith("//"):
        sep = "&" if "?" in settings.login_url else "?"
        return f"{settings.login_url}{sep}next={quote(facts.path, safe='/')}"
    return settings.login_url


def retry_after(error: SesameUnavailable) -> str:
    """The ``Retry-After`` of a 503 answer (whole seconds, at least 1)."""
    wait = error.retry_after if error.retry_after is not None else 1.0
    return str(max(1, math.ceil(wait)))


UNAVAILABLE_BODY: Mapping[str, str] = {
    "error": "session_service_unavailable",
    "message": "sessions cannot be checked right now; retry shortly",
}


# ------------------------------------------------------------------ the current session


@dataclass(slots=True)
class SessionState:
    """The request's session, shared by the sync and async handles."""

    session: Session
    credential: Credential
    via: Literal["cookie", "bearer"]
    device: Device
    changes: ResponseChanges
    renewed: bool = False

    def accept(self, validated: Validated) -> None:
        """Takes a validate answer; a renewal replaces the credential and re-sets the
        cookie (or hands a bearer client its new token)."""
        self.session = validated.session
        renewed = validated.renewed
        if renewed is None:
            return
        self.renewed = True
        if self.via == "cookie" and renewed.cookie is not None and renewed.set_cookie:
            self.credential = Cookie(renewed.cookie)
            self.changes.set_cookies.append(renewed.set_cookie)
        else:
            self.credential = Token(renewed.token)
            self.changes.headers[RENEWED_TOKEN_HEADER] = renewed.token

    def issued(self, issued: Issued) -> None:
        """Takes a rotation's new token."""
        self.session = issued.session
        if self.via == "cookie" and issued.cookie is not None and issued.set_cookie:
            self.credential = Cookie(issued.cookie)
            self.changes.set_cookies.append(issued.set_cookie)
        else:
            self.credential = Token(issued.token)
            self.changes.headers[RENEWED_TOKEN_HEADER] = issued.token


class SessionView:
    """Read access to the request's session (both handles)."""

    __slots__ = ("_state",)

    def __init__(self, state: SessionState) -> None:
        self._state = state

    @property
    def session(self) -> Session:
        """The session as last seen."""
        return self._state.session

    @property
    def id(self) -> str:
        """The session id (SHA-256 of the token, hex): safe to log."""
        return self._state.session.id

    @property
    def user(self) -> str | None:
        """The logged-in user, or ``None`` for an anonymous session."""
        return self._state.session.user

    @property
    def data(self) -> dict[str, Any]:
        """The session data as last seen."""
        return self._state.session.data

    @property
    def version(self) -> int:
        """The data version, for ``patch(expected_version=...)``."""
        return self._state.session.version

    @property
    def renewed(self) -> bool:
        """True when this request renewed the token (the new cookie is being sent)."""
        return self._state.renewed

    @property
    def credential(self) -> Credential:
        """The credential in use (the new one after a renewal)."""
        return self._state.credential

    @property
    def device(self) -> Device:
        """The end user's device, as sent to sesame."""
        return self._state.device


def login_issued(issued: Issued, changes: ResponseChanges, via_cookie: bool = True) -> Issued:
    """Queues the cookie of a new session."""
    if via_cookie and issued.set_cookie:
        changes.set_cookies.append(issued.set_cookie)
    return issued
