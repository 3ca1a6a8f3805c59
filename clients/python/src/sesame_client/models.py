"""Typed results of the sesame API, parsed from its JSON answers.

Each class mirrors a schema of ``openapi.json`` (named in its docstring) and is only its
fields: one parser (``_Model.from_json``) reads each field from the JSON object and checks it
against the field's annotation, so a wrong answer is a
:class:`~sesame_client.errors.ProtocolError` here rather than a ``KeyError`` deep in an app,
and a field added to a model is parsed and checked without more code. Fields a newer server
adds are ignored. Times are unix seconds, as in the API.

Tokens and cookie values are credentials: they are left out of ``repr()`` so that a logged
result does not log a live session.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from types import UnionType
from typing import Any, Self, Union, cast, get_args, get_origin, get_type_hints

from .errors import ProtocolError

__all__ = [
    "CleanupReport",
    "CookieInspection",
    "CookiePolicy",
    "Device",
    "Increment",
    "Inspection",
    "Issued",
    "LoggedOut",
    "Renewed",
    "Session",
    "Validated",
]

JsonObject = dict[str, Any]


def _obj(value: object, what: str) -> JsonObject:
    if not isinstance(value, dict):
        raise ProtocolError(f"{what}: expected a JSON object")
    return value


Checker = Callable[[object, str], object]


def _fail(where: str, hint: object, value: object) -> ProtocolError:
    return ProtocolError(f"{where}: expected {hint}, got {type(value).__name__}")


def _checker(hint: object) -> Checker:
    """A function that returns a value if it has the type ``hint`` (as the models use
    them), parsed into a model where the hint is one, and else raises
    :class:`ProtocolError` naming where. Made once per field; parsing only calls them."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (UnionType, Union):
        (inner,) = [a for a in args if a is not type(None)]
        check = _checker(inner)
        return lambda v, where: None if v is None else check(v, where)
    if isinstance(hint, type) and issubclass(hint, _Model):
        model = hint
        return lambda v, where: model.from_json(v)
    if hint is int:

        def whole(v: object, where: str) -> object:
            if isinstance(v, int) and not isinstance(v, bool):
                return v
            raise _fail(where, hint, v)

        return whole
    if hint is str or hint is bool:
        kind = cast("type", hint)

        def exact(v: object, where: str) -> object:
            if isinstance(v, kind):
                return v
            raise _fail(where, hint, v)

        return exact
    if origin not in (list, dict, Mapping):  # pragma: no cover - a model's own mistake
        raise TypeError(f"unsupported field type {hint!r}")
    strings = origin is list or args[1] is str
    container = list if origin is list else dict

    def collection(v: object, where: str) -> object:
        if isinstance(v, container):
            items = v if isinstance(v, list) else v.values()
            if not strings or all(isinstance(x, str) for x in items):
                return v
        raise _fail(where, hint, v)

    return collection


def _check(value: object, hint: object, where: str) -> object:
    """``value`` checked against ``hint`` (see :func:`_checker`)."""
    return _checker(hint)(value, where)


class _Model:
    """Parsing shared by the models: every field is read from the JSON object of the same
    name and checked against its annotation."""

    __slots__ = ()

    @classmethod
    def from_json(cls, value: object) -> Self:
        """Parses the JSON object of this schema. An absent field takes its default (a
        newer server's optional field, no hints), or ``None``, which only an optional
        field accepts."""
        d = _obj(value, cls.__name__)
        kwargs = {}
        for name, check, absent, where in _plan(cls):
            v = d[name] if name in d else (absent() if callable(absent) else absent)
            kwargs[name] = check(v, where)
        return cls(**kwargs)


Absent = object | Callable[[], object]
_PLANS: dict[type, list[tuple[str, Checker, Absent, str]]] = {}


def _plan(cls: type) -> list[tuple[str, Checker, Absent, str]]:
    """Each field of the model ``cls``: its name, checker, default (or default factory),
    and name for errors. Made once per class."""
    plan = _PLANS.get(cls)
    if plan is None:
        hints = get_type_hints(cls)
        plan = _PLANS[cls] = [
            (f.name, _checker(hints[f.name]), _absent(f), f"{cls.__name__}.{f.name}")
            for f in fields(cls)
        ]
    return plan


def _absent(f: Field[Any]) -> Absent:
    if f.default_factory is not MISSING:
        return f.default_factory
    return None if f.default is MISSING else f.default


@dataclass(frozen=True, slots=True)
class Device(_Model):
    """What the app knows of its client (schema ``Device``): user agent, IP address and
    client hints. Sesame binds a session to the properties its policy names (by default the
    user agent) and refuses the session from another device."""

    user_agent: str | None = None
    ip: str | None = None
    hints: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        """The ``device`` object of a request body (absent properties left out)."""
        out: JsonObject = {}
        if self.user_agent is not None:
            out["user_agent"] = self.user_agent
        if self.ip is not None:
            out["ip"] = self.ip
        if self.hints:
            out["hints"] = dict(self.hints)
        return out


@dataclass(frozen=True, slots=True)
class Session(_Model):
    """A live session (schema ``Session``)."""

    id: str
    """SHA-256 of the token, hex: safe to log and to pass to the admin operations."""
    user: str | None
    data: JsonObject
    version: int
    """Data version, for ``patch(expected_version=...)``."""
    created_at: int
    last_accessed: int
    idle_expires_at: int
    absolute_expires_at: int
    expires_at: int
    device: Device


@dataclass(frozen=True, slots=True)
class Issued(_Model):
    """A new token: what ``create`` and ``rotate``/``login`` return (schema ``Issued``)."""

    token: str = field(repr=False)
    """The session token (for API clients: ``Authorization: Bearer``)."""
    cookie: str | None = field(repr=False)
    """The token sealed as a cookie value (``None`` without cookie keys)."""
    set_cookie: str | None = field(repr=False)
    """The complete ``Set-Cookie`` header value to send to the browser as is."""
    expires_at: int
    session: Session
    evicted: list[str]
    """Ids of the user's sessions the cap ended to make room."""


@dataclass(frozen=True, slots=True)
class Renewed(_Model):
    """The replacement credential a renewing ``validate`` hands out (schema ``Renewed``)."""

    token: str = field(repr=False)
    cookie: str | None = field(repr=False)
    set_cookie: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class Validated(_Model):
    """``validate``'s answer (schema ``ValidateResponse``)."""

    session: Session
    renewed: Renewed | None
    """Set when the token was renewed: send ``renewed.set_cookie`` to the browser."""
    device_flagged: bool
    via_grace: bool


@dataclass(frozen=True, slots=True)
class Increment(_Model):
    """``increment``'s answer: the key and its new value."""

    key: str
    value: int


@dataclass(frozen=True, slots=True)
class LoggedOut(_Model):
    """``end``'s answer (schema ``LoggedOut``)."""

    ended: bool
    """False when the session was not live any more."""
    clear_cookie: str
    """The complete ``Set-Cookie`` value that removes the session cookie."""


@dataclass(frozen=True, slots=True)
class CookiePolicy(_Model):
    """The session cookie's name and attributes (schema ``CookiePolicy``)."""

    name: str
    path: str
    domain: str | None
    secure: bool
    http_only: bool
    same_site: str
    development: bool
    """A cookie without ``Secure``, for ``localhost`` only."""


@dataclass(frozen=True, slots=True)
class Inspection(_Model):
    """Everything known about a session, live or ended (schema ``Inspection``)."""

    id: str
    exists: bool
    live: bool
    user: str | None
    data: JsonObject | None
    version: int | None
    created_at: int | None
    last_accessed: int | None
    idle_seconds_left: int | None
    absolute_seconds_left: int | None
    device: Device | None
    end_reason: str | None
    ended_at: int | None


@dataclass(frozen=True, slots=True)
class CookieInspection(_Model):
    """An operator's report on a cookie value (schema ``CookieInspection``)."""

    valid: bool
    reason: str | None
    key_index: int | None
    issued_at: int | None
    age_secs: int | None
    time_left_secs: int | None
    session_id: str | None


@dataclass(frozen=True, slots=True)
class CleanupReport(_Model):
    """What a cleanup pass did (schema ``Cleanup``)."""

    scanned: int
    deleted: int
    expired: int
    duration_ms: int


def sessions_from_json(value: object) -> list[Session]:
    """The ``sessions`` of a ``UserSessions`` object."""
    items = _obj(value, "UserSessions").get("sessions")
    if not isinstance(items, list):
        raise ProtocolError("UserSessions.sessions: expected a list")
    return [Session.from_json(s) for s in items]


def revoked_from_json(value: object) -> list[str]:
    """The ``revoked`` ids of a ``Revoked`` object."""
    ids = _check(_obj(value, "Revoked").get("revoked"), list[str], "Revoked.revoked")
    return cast("list[str]", ids)


def ended_from_json(value: object) -> bool:
    """The ``ended`` flag of an ``Ended`` object."""
    return _check(_obj(value, "Ended").get("ended"), bool, "Ended.ended") is True
