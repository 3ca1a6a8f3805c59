"""The asynchronous client, :class:`AsyncSesame` (asyncio or trio, through httpx)."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, TypeVar

import anyio
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


class AsyncSesame(ClientBase[httpx.AsyncClient]):
    """:class:`~sesame_client.Sesame` for ``async`` code: the same operations, arguments,
    results, errors and retry rules, awaited. Create it once (per event loop) and
    ``await aclose()`` at shutdown.

    Example::

        sesame = AsyncSesame("http://127.0.0.1:7700", api_key)
        checked = await sesame.validate(Cookie(cookie_value), Device(user_agent=ua))
    """

    def _new_http(self) -> httpx.AsyncClient:
        return self.settings.async_client()

    async def aclose(self) -> None:
        """Closes the connections (only those of a client this instance made)."""
        if self._own and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> AsyncSesame:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _run(self, call: _calls.Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = await self._client().request(
                    call.method, call.path, headers=call.headers, content=call.body
                )
                return _calls.read_answer(call, response)
            except (httpx.TransportError, SesameError) as failure:
                wait = _calls.next_wait(call, failure, attempt, self.settings)
            await anyio.sleep(wait)
            attempt += 1

    async def create(
        self,
        user: str | None = None,
        *,
        data: Mapping[str, Any] | None = None,
        device: Device | None = None,
    ) -> Issued:
        """See :meth:`Sesame.create`."""
        return await self._run(_calls.create(user, data, device))

    async def validate(self, session: Credential, device: Device | None = None) -> Validated:
        """See :meth:`Sesame.validate`."""
        return await self._run(_calls.validate(session, device))

    async def get(self, session: Credential, device: Device | None = None) -> Session:
        """See :meth:`Sesame.get`."""
        return await self._run(_calls.get(session, device))

    async def patch(
        self,
        session: Credential,
        device: Device | None = None,
        *,
        set: Mapping[str, Any] | None = None,
        remove: list[str] | None = None,
        expected_version: int | None = None,
    ) -> Session:
        """See :meth:`Sesame.patch`."""
        return await self._run(_calls.patch(session, device, set, remove, expected_version))

    async def increment(
        self, session: Credential, key: str, by: int = 1, device: Device | None = None
    ) -> int:
        """See :meth:`Sesame.increment`."""
        return (await self._run(_calls.increment(session, device, key, by))).value

    async def rotate(
        self, session: Credential, device: Device | None = None, *, user: str | None = None
    ) -> Issued:
        """See :meth:`Sesame.rotate`."""
        return await self._run(_calls.rotate(session, device, user))

    async def end(self, session: Credential, device: Device | None = None) -> LoggedOut:
        """See :meth:`Sesame.end`."""
        return await self._run(_calls.end(session, device))

    async def cookie_policy(self, *, refresh: bool = False) -> CookiePolicy:
        """See :meth:`Sesame.cookie_policy`."""
        cached = None if refresh else self._policy.fresh()
        if cached is not None:
            return cached
        return self._policy.store(await self._run(_calls.cookie_policy()))

    async def inspect(self, session: Credential) -> Inspection:
        """See :meth:`Sesame.inspect`."""
        return await self._run(_calls.inspect(session))

    async def inspect_id(self, session_id: str) -> Inspection:
        """See :meth:`Sesame.inspect_id`."""
        return await self._run(_calls.inspect_id(session_id))

    async def revoke_id(self, session_id: str) -> bool:
        """See :meth:`Sesame.revoke_id`."""
        return await self._run(_calls.revoke_id(session_id))

    async def list_user(self, user: str) -> list[Session]:
        """See :meth:`Sesame.list_user`."""
        return await self._run(_calls.list_user(user))

    async def revoke_user(
        self, user: str, *, except_id: str | None = None, except_token: str | None = None
    ) -> list[str]:
        """See :meth:`Sesame.revoke_user`."""
        return await self._run(_calls.revoke_user(user, except_id, except_token))

    async def decode_cookie(self, cookie: str) -> CookieInspection:
        """See :meth:`Sesame.decode_cookie`."""
        return await self._run(_calls.decode_cookie(cookie))

    async def cleanup(self) -> CleanupReport:
        """See :meth:`Sesame.cleanup`."""
        return await self._run(_calls.cleanup())
