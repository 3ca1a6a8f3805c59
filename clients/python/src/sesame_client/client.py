"""The synchronous client, :class:`Sesame`."""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from . import _calls
from ._base import ClientBase
from .credentials import Credential
from .errors import SesameError
from .models import (
    CleanupReport,
    CookieInspection,
    CookiePolicy,
    Device,
    Inspection,
    Issued,
    LoggedOut,
    Session,
    Validated,
)

T = TypeVar("T")


class Sesame(ClientBase[httpx.Client]):
    """A client of ``sesame serve``: every ``/v1`` operation, typed.

    One instance per process is enough: it keeps a pool of connections (reused across
    calls and threads) and is safe to share between threads. After a ``fork`` (gunicorn's
    ``--preload``) it opens fresh connections instead of sharing the parent's.

    A session is named by a :class:`~sesame_client.Token` (the session token, e.g. from an
    API client's ``Authorization: Bearer``) or a :class:`~sesame_client.Cookie` (the cookie
    value); ``device`` says what the app knows of the end user's client and goes with every
    call that names a session.

    Args:
        base_url: where sesame listens, e.g. ``http://127.0.0.1:7700``.
        api_key: an API key with the scopes the calls need (``validate``, ``sessions``,
            ``admin``).
        timeout: seconds for each read and write (default 5).
        connect_timeout: seconds to connect (default 1).
        retries: extra attempts where retrying is safe (default 2; see below).
        max_retry_wait: longest wait before a retry, in seconds; a ``Retry-After`` longer
            than this is raised instead of waited for (default 1).
        max_connections: size of the connection pool (default 100).
        policy_ttl: how long :meth:`cookie_policy` is cached, at most 60 s (default 60).
        http_client: your own ``httpx.Client`` (proxies, TLS settings, transports); its
            base URL and headers are set by this client.

    Retries: a request that never left (connection refused, connect timeout) is retried
    for every operation; a lost answer or a 503 ``store_unavailable``/``timeout`` only for
    idempotent operations (get, patch, end, the admin operations), never for create,
    validate, increment or rotate, which could happen twice.

    Errors: :mod:`sesame_client.errors` has one class per error ``code``;
    :class:`~sesame_client.errors.SesameUnavailable` covers everything that means "sesame
    cannot answer now".

    Example::

        sesame = Sesame("http://127.0.0.1:7700", api_key)
        device = Device(user_agent=request_user_agent)
        issued = sesame.create("alice", device=device)   # send issued.set_cookie
        checked = sesame.validate(Cookie(cookie_value), device)
    """

    def _new_http(self) -> httpx.Client:
        return self.settings.sync_client()

    def close(self) -> None:
        """Closes the connections (only those of a client this instance made)."""
        if self._own and self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> Sesame:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, call: _calls.Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = self._client().request(
                    call.method, call.path, headers=call.headers, content=call.body
                )
                return _calls.read_answer(call, response)
            except (httpx.TransportError, SesameError) as failure:
                wait = _calls.next_wait(call, failure, attempt, self.settings)
            time.sleep(wait)
            attempt += 1

    # -------------------------------------------------------------- sessions

    def create(
        self,
        user: str | None = None,
        *,
        data: Mapping[str, Any] | None = None,
        device: Device | None = None,
    ) -> Issued:
        """Creates a session (login, or anonymous without ``user``). Scope ``sessions``.

        Send ``issued.set_cookie`` to the browser as the ``Set-Cookie`` header (or hand
        ``issued.token`` to an API client). Not retried once sent: it could create two.

        Raises:
            LimitReached: the user has the maximum number of sessions (``reject_new``).
            SesameUnavailable: sesame cannot answer now.
        """
        return self._run(_calls.create(user, data, device))

    def validate(self, session: Credential, device: Device | None = None) -> Validated:
        """Checks a session and records the use: the hot path. Scope ``validate``.

        When ``result.renewed`` is set, send ``result.renewed.set_cookie`` to the browser.

        Raises:
            SessionRefused: no live session (``clear_cookie`` removes the cookie); a
                :class:`~sesame_client.errors.SessionEnded` subclass says why it ended.
            SesameUnavailable: sesame cannot answer now.
        """
        return self._run(_calls.validate(session, device))

    def get(self, session: Credential, device: Device | None = None) -> Session:
        """The session and its data, without counting a use. Scope ``sessions``.

        Raises:
            SessionRefused: no live session.
        """
        return self._run(_calls.get(session, device))

    def patch(
        self,
        session: Credential,
        device: Device | None = None,
        *,
        set: Mapping[str, Any] | None = None,
        remove: list[str] | None = None,
        expected_version: int | None = None,
    ) -> Session:
        """Sets and removes data keys. Scope ``sessions``.

        With ``expected_version`` the change applies only if the session is still at that
        version (compare-and-set).

        Raises:
            Conflict: the session is at ``current_version``, not ``expected_version``.
            DataTooLarge: the data would exceed the policy's limit.
        """
        return self._run(_calls.patch(session, device, set, remove, expected_version))

    def increment(
        self, session: Credential, key: str, by: int = 1, device: Device | None = None
    ) -> int:
        """Adds ``by`` to the integer at ``key`` atomically; returns the new value. Scope
        ``sessions``. Not retried once sent (it could count twice).

        Raises:
            NotAnInteger: the key holds something else.
        """
        return self._run(_calls.increment(session, device, key, by)).value

    def rotate(
        self, session: Credential, device: Device | None = None, *, user: str | None = None
    ) -> Issued:
        """Replaces the token (a privilege change); with ``user``, logs that user in on
        the session (its lifetime restarts; a fixated old token stops working). Scope
        ``sessions``. Send ``set_cookie``."""
        return self._run(_calls.rotate(session, device, user))

    def end(self, session: Credential, device: Device | None = None) -> LoggedOut:
        """Ends the session (logout). Scope ``sessions``. Send ``clear_cookie``."""
        return self._run(_calls.end(session, device))

    def cookie_policy(self, *, refresh: bool = False) -> CookiePolicy:
        """The session cookie's name and attributes, cached for ``policy_ttl`` seconds
        (at most 60), so a policy change in sesame reaches the app within a minute.
        Scope ``validate``."""
        cached = None if refresh else self._policy.fresh()
        if cached is not None:
            return cached
        return self._policy.store(self._run(_calls.cookie_policy()))

    # -------------------------------------------------------------- admin

    def inspect(self, session: Credential) -> Inspection:
        """Everything known about a session, live or ended. Scope ``admin``."""
        return self._run(_calls.inspect(session))

    def inspect_id(self, session_id: str) -> Inspection:
        """:meth:`inspect` by session id. Scope ``admin``."""
        return self._run(_calls.inspect_id(session_id))

    def revoke_id(self, session_id: str) -> bool:
        """Ends one session by id (reason ``revoked``); False if it was not live.
        Scope ``admin``."""
        return self._run(_calls.revoke_id(session_id))

    def list_user(self, user: str) -> list[Session]:
        """A user's live sessions, oldest first. Scope ``admin``."""
        return self._run(_calls.list_user(user))

    def revoke_user(
        self, user: str, *, except_id: str | None = None, except_token: str | None = None
    ) -> list[str]:
        """Ends all of a user's sessions ("log out everywhere"), or all but one; returns
        the ids ended. Scope ``admin``."""
        return self._run(_calls.revoke_user(user, except_id, except_token))

    def decode_cookie(self, cookie: str) -> CookieInspection:
        """Whether a cookie value is valid, and why not. Scope ``admin``."""
        return self._run(_calls.decode_cookie(cookie))

    def cleanup(self) -> CleanupReport:
        """Runs a cleanup pass now. Scope ``admin``."""
        return self._run(_calls.cleanup())
