"""Fixtures: real ``sesame serve`` processes, and a check of every answer against the
OpenAPI document.

The binary is ``$SESAME_BIN``, or built the way ``scripts/test.sh`` builds it (``cargo test
--workspace --no-run``: after the Rust tests, as in CI, that is a no-op, where ``cargo build
-p sesame-server`` would build the workspace again with other features). Each server runs
on a free loopback port (``listen = 127.0.0.1:0``, the address read from its first line),
with its own API keys and cookie key, and is stopped at the end of the test module.

Every HTTP answer the client library receives, in every test, goes through
:func:`check_against_openapi` (an httpx response hook on the clients the library makes):
its status must be documented for the operation and its JSON body must match the
schema, or the test fails.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from sesame_client._base import Settings

REPO = Path(__file__).resolve().parents[3]
OPENAPI = json.loads((REPO / "crates/sesame-server/openapi.json").read_text())
UA = "Mozilla/5.0 (X11; Linux x86_64) pytest"


# ------------------------------------------------------------------ the OpenAPI check

_TEMPLATES = [
    (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)) + "$"), p)
    for p in OPENAPI["paths"]
]
_FORMATS = jsonschema.FormatChecker()
CHECKED: list[tuple[str, str, int]] = []


def check_against_openapi(response: httpx.Response) -> None:
    """Fails unless ``response`` is what the document says its operation answers."""
    response.read()
    request = response.request
    path = request.url.path
    method = request.method.lower()
    template = next((t for rx, t in _TEMPLATES if rx.match(path)), None)
    assert template is not None, f"{method} {path}: not in openapi.json"
    operation = OPENAPI["paths"][template].get(method)
    assert operation is not None, f"{method} {template}: not in openapi.json"
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, (
        f"{method} {template}: status {response.status_code} is not documented: {response.text}"
    )
    media = documented.get("content", {}).get("application/json")
    if media is None:
        return
    assert response.headers.get("content-type", "").startswith("application/json")
    schema = {**OPENAPI, **media["schema"]}
    errors = list(
        jsonschema.Draft202012Validator(schema, format_checker=_FORMATS).iter_errors(
            response.json()
        )
    )
    assert not errors, f"{method} {template} {response.status_code}: {errors[0].message}"
    CHECKED.append((method, template, response.status_code))


async def _acheck(response: httpx.Response) -> None:
    await response.aread()
    check_against_openapi(response)


@pytest.fixture(autouse=True)
def openapi_checked_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every httpx client the library makes checks every answer it receives."""
    make_sync, make_async = Settings.sync_client, Settings.async_client

    def sync_client(self: Settings) -> httpx.Client:
        client = make_sync(self)
        client.event_hooks["response"].append(check_against_openapi)
        return client

    def async_client(self: Settings) -> httpx.AsyncClient:
        client = make_async(self)
        client.event_hooks["response"].append(_acheck)
        return client

    monkeypatch.setattr(Settings, "sync_client", sync_client)
    monkeypatch.setattr(Settings, "async_client", async_client)


# ------------------------------------------------------------------ the binary and servers


def _binary() -> Path:
    given = os.environ.get("SESAME_BIN")
    if given:
        return Path(given).resolve()
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target.is_absolute():
        target = REPO / target
    subprocess.run(
        ["cargo", "test", "--workspace", "--locked", "--no-run", "-q"], cwd=REPO, check=True
    )
    return target / "debug" / "sesame"


@pytest.fixture(scope="session")
def sesame_bin() -> Path:
    """The ``sesame`` binary."""
    path = _binary()
    assert path.is_file(), f"no sesame binary at {path}"
    return path


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """A running ``sesame serve``: its URL and keys."""

    url: str
    admin_key: str
    validate_key: str
    process: subprocess.Popen[bytes]
    store: str
    config: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        """Stops the process (SIGTERM, then SIGKILL)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return json.dumps(v)  # strings and lists of strings: the same in TOML


def start_server(
    binary: Path, workdir: Path, store: str, sections: dict[str, dict[str, object]] | None = None
) -> Server:
    """Starts ``sesame serve`` on ``store`` with an admin key and a validate-only key."""
    admin, validate = "sk_" + secrets.token_urlsafe(24), "sk_" + secrets.token_urlsafe(24)
    cookie_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    sections = {"log": {"level": "warn"}, "cleanup": {"interval": "0"}, **(sections or {})}
    sections["cookie"] = {**sections.get("cookie", {}), "keys": [cookie_key]}
    lines = [
        'listen = "127.0.0.1:0"',
        f"store = {json.dumps(store)}",
        f"data_dir = {json.dumps(str(workdir / 'data'))}",
    ]
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    for name, key, scopes in (("app", admin, '["admin"]'), ("edge", validate, '["validate"]')):
        digest = hashlib.sha256(key.encode()).hexdigest()
        lines.append(f'[[api_keys]]\nname = "{name}"\nhash = "sha256:{digest}"\nscopes = {scopes}')
    config = workdir / "sesame.toml"
    config.write_text("\n".join(lines) + "\n")
    log = (workdir / "stderr.log").open("wb")
    process = subprocess.Popen(
        [str(binary), "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=log,
        cwd=workdir,
    )
    assert process.stdout is not None
    first = process.stdout.readline().decode()
    match = re.match(r"sesame listening on (http://\S+)", first)
    if match is None:
        process.kill()
        process.wait()
        log.close()
        stderr = (workdir / "stderr.log").read_text()
        raise RuntimeError(f"sesame serve did not start: {first!r} {stderr}")
    url = match.group(1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return Server(url, admin, validate, process, store, sections)


ServerFactory = Callable[..., Server]


@pytest.fixture(scope="module")
def make_server(
    sesame_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerFactory]:
    """Starts servers for a module: ``make_server("memory://", {"policy": {...}})``; a
    ``sqlite`` store gets a file in its own directory."""
    started: list[Server] = []

    def make(store: str = "memory", sections: dict[str, dict[str, object]] | None = None) -> Server:
        workdir = tmp_path_factory.mktemp("sesame")
        url = "memory://" if store == "memory" else f"sqlite://{workdir / 'sesame.db'}"
        server = start_server(sesame_bin, workdir, url, sections)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def server(request: pytest.FixtureRequest, make_server: ServerFactory) -> Server:
    """A server with the default policy, on memory:// and on SQLite."""
    store: str = request.param
    return make_server(store)
