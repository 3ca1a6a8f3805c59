"""What the sync and async clients share: settings, the HTTP client's limits and
timeouts, and the cookie-policy cache."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Generic, TypedDict, TypeVar

import httpx

from ._version import __version__
from .models import CookiePolicy

#: How long the cookie policy is cached (decision D2: at most 60 s).
POLICY_TTL = 60.0


@dataclass(frozen=True, slots=True)
class Settings:
    """A client's settings (see :class:`sesame_client.Sesame` for their meaning)."""

    base_url: str
    api_key: str
    timeout: float
    connect_timeout: float
    retries: int
    max_retry_wait: float
    max_connections: int
    policy_ttl: float

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http:// or https:// URL")
        if not self.api_key or any(c.isspace() for c in self.api_key):
            raise ValueError("api_key must be a non-empty API key without spaces")
        if not 0 < self.timeout <= 300 or not 0 < self.connect_timeout <= 300:
            raise ValueError("timeouts must be between 0 and 300 seconds")
        if not 0 <= self.retries <= 10:
            raise ValueError("retries must be between 0 and 10")
        if not 0 <= self.max_retry_wait <= 60:
            raise ValueError("max_retry_wait must be between 0 and 60 seconds")
        if not 1 <= self.max_connections <= 10_000:
            raise ValueError("max_connections must be between 1 and 10000")
        if not 0 <= self.policy_ttl <= POLICY_TTL:
            raise ValueError(f"policy_ttl must be between 0 and {POLICY_TTL} seconds")

    def headers(self) -> dict[str, str]:
        """The headers every request carries."""
        return {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": f"sesame-client-python/{__version__}",
        }

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=self.connect_timeout)

    def _limits(self) -> httpx.Limits:
        # Idle connections are dropped after 2 s, well before `sesame serve` closes
        # them (limits.header_read_timeout, default 5 s, announced in `Keep-Alive:
        # timeout=5`), so a reused connection is never one the server is closing:
        # a request lost in that race could not be retried when it is not idempotent.
        return httpx.Limits(
            max_connections=self.max_connections,
            max_keepalive_connections=min(self.max_connections, 32),
            keepalive_expiry=2.0,
        )

    def client_options(self) -> ClientOptions:
        """The options of the ``httpx`` client (sync or async): base URL, headers,
        timeouts, limits. Proxies from the environment would see every token
        (``trust_env=False``): to use one, pass your own ``http_client``. Redirects are
        not followed: sesame never redirects."""
        return ClientOptions(
            base_url=self.base_url.rstrip("/"),
            headers=self.headers(),
            timeout=self._timeout(),
            limits=self._limits(),
            trust_env=False,
            follow_redirects=False,
        )

    def sync_client(self) -> httpx.Client:
        """A new ``httpx.Client`` with these settings."""
        return httpx.Client(**self.client_options())

    def async_client(self) -> httpx.AsyncClient:
        """A new ``httpx.AsyncClient`` with these settings."""
        return httpx.AsyncClient(**self.client_options())


class ClientOptions(TypedDict):
    """Keyword arguments of ``httpx.Client`` and ``httpx.AsyncClient``."""

    base_url: str
    headers: dict[str, str]
    timeout: httpx.Timeout
    limits: httpx.Limits
    trust_env: bool
    follow_redirects: bool


class PolicyCache:
    """The cookie policy and when it was fetched. Races between threads only cause an
    extra fetch."""

    __slots__ = ("_fetched", "_policy", "_ttl")

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._policy: CookiePolicy | None = None
        self._fetched = 0.0

    def fresh(self) -> CookiePolicy | None:
        """The cached policy while it is fresh."""
        policy = self._policy
        if policy is not None and time.monotonic() - self._fetched < self._ttl:
            return policy
        return None

    def store(self, policy: CookiePolicy) -> CookiePolicy:
        """Keeps ``policy`` for the TTL."""
        self._policy = policy
        self._fetched = time.monotonic()
        return policy


H = TypeVar("H", httpx.Client, httpx.AsyncClient)


class ClientBase(Generic[H]):
    """The constructor and connection handling of :class:`~sesame_client.Sesame` and
    :class:`~sesame_client.AsyncSesame` (documented there)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 5.0,
        connect_timeout: float = 1.0,
        retries: int = 2,
        max_retry_wait: float = 1.0,
        max_connections: int = 100,
        policy_ttl: float = POLICY_TTL,
        http_client: H | None = None,
    ) -> None:
        self.settings = Settings(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            connect_timeout=connect_timeout,
            retries=retries,
            max_retry_wait=max_retry_wait,
            max_connections=max_connections,
            policy_ttl=policy_ttl,
        )
        self._own = http_client is None
        self._http: H | None = http_client
        if http_client is not None:
            http_client.base_url = httpx.URL(self.settings.base_url.rstrip("/"))
            http_client.headers.update(self.settings.headers())
        self._pid = os.getpid()
        self._policy = PolicyCache(policy_ttl)

    def _new_http(self) -> H:
        raise NotImplementedError

    def _client(self) -> H:
        """The HTTP client; a new one in a forked child (the parent's connections are
        not ours to use)."""
        http = self._http
        if http is None or (self._own and self._pid != os.getpid()):
            http = self._new_http()
            self._http = http
            self._pid = os.getpid()
        return http
