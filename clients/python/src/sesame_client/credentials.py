"""How a call names a session: :class:`Token` (the session token, e.g. from an API
client's ``Authorization: Bearer``) or :class:`Cookie` (the cookie value a browser sent).

Two types instead of two keyword arguments, so that "exactly one of them" is checked by
the type checker, not at run time. Both keep their value out of ``repr()``: a logged
credential would be a live session.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Cookie", "Credential", "Token"]


@dataclass(frozen=True, slots=True)
class Token:
    """A session token (43 characters of base64url), sent as ``Sesame-Token``."""

    value: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Cookie:
    """A session cookie value (a sealed token), sent as ``Sesame-Cookie``."""

    value: str = field(repr=False)


Credential = Token | Cookie
"""A session credential: :class:`Token` or :class:`Cookie`."""
