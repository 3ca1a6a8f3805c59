"""Python client for ``sesame serve``, the sesame session service.

- :class:`Sesame` / :class:`AsyncSesame`: every ``/v1`` operation, typed results
  (:mod:`sesame_client.models`), one exception class per error code
  (:mod:`sesame_client.errors`), pooled connections, bounded timeouts, retries only where
  an operation is idempotent.
- Framework integrations that need one line per route: :mod:`sesame_client.flask`,
  :mod:`sesame_client.fastapi`, :mod:`sesame_client.django`.

A session is named by :class:`Cookie` (the value a browser sent) or :class:`Token`;
:class:`Device` tells sesame what the app knows of the end user's client.
"""

from ._version import __version__
from .aio import AsyncSesame
from .client import Sesame
from .credentials import Cookie, Credential, Token
from .errors import (
    ApiError,
    Conflict,
    LimitReached,
    SesameError,
    SesameUnavailable,
    SessionEnded,
    SessionRefused,
    StoreUnavailable,
    TooManyInvalidTokens,
)
from .models import (
    CleanupReport,
    CookieInspection,
    CookiePolicy,
    Device,
    Inspection,
    Issued,
    LoggedOut,
    Renewed,
    Session,
    Validated,
)

__all__ = [
    "ApiError",
    "AsyncSesame",
    "CleanupReport",
    "Conflict",
    "Cookie",
    "CookieInspection",
    "CookiePolicy",
    "Credential",
    "Device",
    "Inspection",
    "Issued",
    "LimitReached",
    "LoggedOut",
    "Renewed",
    "Sesame",
    "SesameError",
    "SesameUnavailable",
    "Session",
    "SessionEnded",
    "SessionRefused",
    "StoreUnavailable",
    "Token",
    "TooManyInvalidTokens",
    "Validated",
    "__version__",
]
