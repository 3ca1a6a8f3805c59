"""The request flows of the integrations — authenticate, log in, log out — and the handle
on the request's session, over the sync client (:class:`SyncFlow`, :class:`CurrentSession`)
and the async one (:class:`AsyncFlow`, :class:`AsyncCurrentSession`). The rules are in
:mod:`._web`; here is only the order of the calls."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from . import _web
from ._web import Found, Refusal, RequestFacts, ResponseChanges, SessionState, WebSettings
from .aio import AsyncSesame
from .client import Sesame
from .errors import SessionRefused
from .models import Issued, Session


class CurrentSession(_web.SessionView):
    """The request's live session (sync): read it, change it, rotate it, end it. Changes
    that touch the cookie are sent with the response."""

    __slots__ = ("_client",)

    def __init__(self, client: Sesame, state: SessionState) -> None:
        super().__init__(state)
        self._client = client

    def refresh(self) -> Session:
        """Reads the session again (its data may have changed in another request)."""
        st = self._state
        st.session = self._client.get(st.credential, st.device)
        return st.session

    def patch(
        self,
        *,
        set: Mapping[str, Any] | None = None,
        remove: list[str] | None = None,
        expected_version: int | None = None,
    ) -> Session:
        """Sets and removes data keys (see :meth:`sesame_client.Sesame.patch`)."""
        st = self._state
        st.session = self._client.patch(
            st.credential, st.device, set=set, remove=remove, expected_version=expected_version
        )
        return st.session

    def increment(self, key: str, by: int = 1) -> int:
        """Adds ``by`` to the integer at ``key`` atomically; returns the new value."""
        st = self._state
        return self._client.increment(st.credential, key, by, st.device)

    def rotate(self) -> None:
        """A new token for the same session (after a privilege change); the new cookie is
        sent with the response."""
        st = self._state
        st.issued(self._client.rotate(st.credential, st.device))

    def logout(self) -> None:
        """Ends the session; the cookie is removed with the response."""
        st = self._state
        logged_out = self._client.end(st.credential, st.device)
        if st.via == "cookie":
            st.changes.set_cookies.append(logged_out.clear_cookie)


class AsyncCurrentSession(_web.SessionView):
    """:class:`CurrentSession` for async code."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncSesame, state: SessionState) -> None:
        super().__init__(state)
        self._client = client

    async def refresh(self) -> Session:
        """See :meth:`CurrentSession.refresh`."""
        st = self._state
        st.session = await self._client.get(st.credential, st.device)
        return st.session

    async def patch(
        self,
        *,
        set: Mapping[str, Any] | None = None,
        remove: list[str] | None = None,
        expected_version: int | None = None,
    ) -> Session:
        """See :meth:`CurrentSession.patch`."""
        st = self._state
        st.session = await self._client.patch(
            st.credential, st.device, set=set, remove=remove, expected_version=expected_version
        )
        return st.session

    async def increment(self, key: str, by: int = 1) -> int:
        """See :meth:`CurrentSession.increment`."""
        st = self._state
        return await self._client.increment(st.credential, key, by, st.device)

    async def rotate(self) -> None:
        """See :meth:`CurrentSession.rotate`."""
        st = self._state
        st.issued(await self._client.rotate(st.credential, st.device))

    async def logout(self) -> None:
        """See :meth:`CurrentSession.logout`."""
        st = self._state
        logged_out = await self._client.end(st.credential, st.device)
        if st.via == "cookie":
            st.changes.set_cookies.append(logged_out.clear_cookie)


class SyncFlow:
    """Authenticate, log in and log out over :class:`~sesame_client.Sesame`."""

    def __init__(self, client: Sesame, settings: WebSettings) -> None:
        self.client = client
        self.settings = settings

    def _found(self, facts: RequestFacts) -> Found | Refusal | None:
        policy = self.client.cookie_policy()
        _web.check_host(policy, facts.host)
        return _web.find_credential(facts, policy.name, self.settings)

    def authenticate(
        self, facts: RequestFacts, changes: ResponseChanges
    ) -> CurrentSession | Refusal | None:
        """The request's live session, the refusal to answer, or ``None`` when it
        presents no session. Raises ``SesameUnavailable`` when sesame cannot answer."""
        found = self._found(facts)
        if not isinstance(found, Found):
            return found
        device = _web.device_of(facts, self.settings)
        try:
            validated = self.client.validate(found.credential, device)
        except SessionRefused as error:
            return _web.refusal_from(error, found, changes)
        state = SessionState(validated.session, found.credential, found.via, device, changes)
        state.accept(validated)
        return CurrentSession(self.client, state)

    def login(
        self,
        facts: RequestFacts,
        changes: ResponseChanges,
        user: str,
        data: Mapping[str, Any] | None,
        cookie: bool,
    ) -> Issued:
        """A new session for ``user``, its cookie queued; the session the request
        presented (if any) is ended, so nothing of it carries over to this user."""
        found = self._found(facts)
        device = _web.device_of(facts, self.settings)
        issued = self.client.create(user, data=data, device=device)
        if isinstance(found, Found):
            with contextlib.suppress(SessionRefused):
                self.client.end(found.credential, device)
        return _web.login_issued(issued, changes, cookie)

    def logout(self, facts: RequestFacts, changes: ResponseChanges) -> bool:
        """Ends the request's session and queues the cookie's removal; False when there
        was no live session."""
        found = self._found(facts)
        if not isinstance(found, Found):
            return False
        try:
            logged_out = self.client.end(found.credential, _web.device_of(facts, self.settings))
        except SessionRefused as error:
            _web.refusal_from(error, found, changes)
            return False
        if found.via == "cookie":
            changes.set_cookies.append(logged_out.clear_cookie)
        return logged_out.ended


class AsyncFlow:
    """:class:`SyncFlow` over :class:`~sesame_client.AsyncSesame`."""

    def __init__(self, client: AsyncSesame, settings: WebSettings) -> None:
        self.client = client
        self.settings = settings

    async def _found(self, facts: RequestFacts) -> Found | Refusal | None:
        policy = await self.client.cookie_policy()
        _web.check_host(policy, facts.host)
        return _web.find_credential(facts, policy.name, self.settings)

    async def authenticate(
        self, facts: RequestFacts, changes: ResponseChanges
    ) -> AsyncCurrentSession | Refusal | None:
        """See :meth:`SyncFlow.authenticate`."""
        found = await self._found(facts)
        if not isinstance(found, Found):
            return found
        device = _web.device_of(facts, self.settings)
        try:
            validated = await self.client.validate(found.credential, device)
        except SessionRefused as error:
            return _web.refusal_from(error, found, changes)
        state = SessionState(validated.session, found.credential, found.via, device, changes)
        state.accept(validated)
        return AsyncCurrentSession(self.client, state)

    async def login(
        self,
        facts: RequestFacts,
        changes: ResponseChanges,
        user: str,
        data: Mapping[str, Any] | None,
        cookie: bool,
    ) -> Issued:
        """See :meth:`SyncFlow.login`."""
        found = await self._found(facts)
        device = _web.device_of(facts, self.settings)
        issued = await self.client.create(user, data=data, device=device)
        if isinstance(found, Found):
            with contextlib.suppress(SessionRefused):
                await self.client.end(found.credential, device)
        return _web.login_issued(issued, changes, cookie)

    async def logout(self, facts: RequestFacts, changes: ResponseChanges) -> bool:
        """See :meth:`SyncFlow.logout`."""
        found = await self._found(facts)
        if not isinstance(found, Found):
            return False
        device = _web.device_of(facts, self.settings)
        try:
            logged_out = await self.client.end(found.credential, device)
        except SessionRefused as error:
            _web.refusal_from(error, found, changes)
            return False
        if found.via == "cookie":
            changes.set_cookies.append(logged_out.clear_cookie)
        return logged_out.ended
