"""The three example apps behind one small test-client interface, so that every scenario
runs against Flask, FastAPI and Django alike. Each app is loaded fresh for a given sesame
(the examples read ``SESAME_URL`` / ``SESAME_API_KEY``)."""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
COOKIE = "__Host-sesame"
_counter = itertools.count()


@dataclass
class Answer:
    """A response as the tests read it."""

    status: int
    text: str
    location: str | None
    set_cookies: list[str]
    headers: Mapping[str, str]

    def json(self) -> Any:
        import json

        return json.loads(self.text)


class Browser(Protocol):
    """A test client with a cookie jar."""

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Answer: ...
    def post(self, path: str, data: Mapping[str, str] | None = None) -> Answer: ...
    def cookie(self, name: str = COOKIE) -> str | None: ...
    def set_cookie(self, value: str, name: str = COOKIE) -> None: ...


@contextmanager
def _env(url: str, key: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in ("SESAME_URL", "SESAME_API_KEY")}
    os.environ.update(SESAME_URL=url, SESAME_API_KEY=key)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def load(name: str, url: str, key: str) -> ModuleType:
    """A fresh copy of ``examples/<name>.py`` configured for the sesame at ``url``."""
    module_name = f"example_{name}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    with _env(url, key):
        spec.loader.exec_module(module)
    return module


class _TestClient:
    """GET and POST through a framework's test client (``self.client``)."""

    client: Any

    def _answer(self, r: Any) -> Answer:
        raise NotImplementedError

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Answer:
        return self._answer(self.client.get(path, headers=dict(headers or {})))

    def post(self, path: str, data: Mapping[str, str] | None = None) -> Answer:
        return self._answer(self.client.post(path, data=dict(data or {})))


# ------------------------------------------------------------------ Flask


class FlaskBrowser(_TestClient):
    """werkzeug's test client."""

    def __init__(self, url: str, key: str, host: str = "localhost") -> None:
        self.module = load("flask_app", url, key)
        self.client = self.module.app.test_client()
        self.host = host

    def _answer(self, r: Any) -> Answer:
        return Answer(
            r.status_code,
            r.get_data(as_text=True),
            r.headers.get("Location"),
            r.headers.getlist("Set-Cookie"),
            dict(r.headers),
        )

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Answer:
        return self._answer(
            self.client.get(path, headers=dict(headers or {}), base_url=f"http://{self.host}")
        )

    def post(self, path: str, data: Mapping[str, str] | None = None) -> Answer:
        return self._answer(self.client.post(path, data=dict(data or {})))

    def cookie(self, name: str = COOKIE) -> str | None:
        c = self.client.get_cookie(name)
        return None if c is None else c.value

    def set_cookie(self, value: str, name: str = COOKIE) -> None:
        self.client.set_cookie(name, value)


# ------------------------------------------------------------------ FastAPI


class FastAPIBrowser(_TestClient):
    """Starlette's TestClient (httpx), over https so the Secure cookie is kept."""

    def __init__(self, url: str, key: str) -> None:
        from starlette.testclient import TestClient

        self.module = load("fastapi_app", url, key)
        self.client = TestClient(
            self.module.app, base_url="https://testserver", follow_redirects=False
        )
        # One event loop for the app's life, as under a server (without it each request
        # runs in a new loop, and pooled connections of the old one cannot be reused).
        self.client.__enter__()

    def _answer(self, r: Any) -> Answer:
        return Answer(
            r.status_code,
            r.text,
            r.headers.get("location"),
            r.headers.get_list("set-cookie"),
            dict(r.headers),
        )

    def cookie(self, name: str = COOKIE) -> str | None:
        value: str | None = self.client.cookies.get(name)
        return value

    def set_cookie(self, value: str, name: str = COOKIE) -> None:
        self.client.cookies.clear()
        self.client.cookies.set(name, value, domain="testserver.local")


# ------------------------------------------------------------------ Django


def _django_module(url: str, key: str) -> ModuleType:
    import django

    module = load("django_app", url, key)
    django.setup()
    return module


class DjangoBrowser(_TestClient):
    """Django's test client; ``SESAME`` is overridden per sesame (settings are global)."""

    def __init__(self, url: str, key: str) -> None:
        from django.test import Client
        from django.test.utils import override_settings

        self.module = _django_module(url, key)
        self.settings = override_settings(
            ROOT_URLCONF=self.module.__name__,
            SESAME={"URL": url, "API_KEY": key, "LOGIN_URL": "/login"},
        )
        self.settings.enable()
        self.client = Client(headers={"User-Agent": "Mozilla/5.0 django-testclient"})
        # The middleware reads SESAME now, while this app's settings are in force.
        self.client.handler.load_middleware()

    def _answer(self, r: Any) -> Answer:
        return Answer(
            r.status_code,
            r.content.decode(),
            r.headers.get("Location"),
            [m.OutputString() for m in r.cookies.values()],
            dict(r.headers),
        )

    def cookie(self, name: str = COOKIE) -> str | None:
        morsel = self.client.cookies.get(name)
        return None if morsel is None or not morsel.value else morsel.value

    def set_cookie(self, value: str, name: str = COOKIE) -> None:
        self.client.cookies[name] = value


FRAMEWORKS = {"flask": FlaskBrowser, "fastapi": FastAPIBrowser, "django": DjangoBrowser}


def browser(framework: str, url: str, key: str) -> Browser:
    """A new app of ``framework`` for the sesame at ``url``, and its test client."""
    made: Browser = FRAMEWORKS[framework](url, key)
    return made
