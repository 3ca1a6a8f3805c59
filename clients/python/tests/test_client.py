"""The clients against a real ``sesame serve`` (memory:// and SQLite): every ``/v1``
operation, the typed results, the error classes, timeouts and retries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from conftest import UA, Server, ServerFactory, free_port

from sesame_client import AsyncSesame, Cookie, Device, Sesame, Token, _calls
from sesame_client import errors as e

DEVICE = Device(user_agent=UA, ip="203.0.113.7", hints={"platform": "Linux"})


@pytest.fixture
def sesame(server: Server) -> Iterator[Sesame]:
    with Sesame(server.url, server.admin_key) as client:
        yield client


def test_every_session_operation(sesame: Sesame) -> None:
    issued = sesame.create("alice", data={"theme": "dark"}, device=DEVICE)
    assert issued.session.user == "alice"
    assert issued.session.data == {"theme": "dark"}
    assert issued.session.device == DEVICE
    assert issued.cookie
    assert issued.set_cookie == (
        f"__Host-sesame={issued.cookie}; Path=/; Secure; HttpOnly; SameSite=Strict"
    )
    assert issued.token not in repr(issued)
    assert issued.cookie not in repr(issued)
    by_cookie, by_token = Cookie(issued.cookie), Token(issued.token)

    checked = sesame.validate(by_cookie, DEVICE)
    assert (checked.session.id, checked.renewed, checked.via_grace) == (
        issued.session.id,
        None,
        False,
    )
    assert sesame.get(by_token, DEVICE).data == {"theme": "dark"}

    patched = sesame.patch(by_cookie, DEVICE, set={"n": 1}, remove=["theme"])
    assert patched.data == {"n": 1}
    with pytest.raises(e.Conflict) as conflict:
        sesame.patch(by_cookie, DEVICE, set={"n": 2}, expected_version=patched.version - 1)
    assert conflict.value.current_version == patched.version
    assert sesame.patch(by_cookie, DEVICE, set={"n": 2}, expected_version=patched.version)

    assert sesame.increment(by_token, "visits", device=DEVICE) == 1
    assert sesame.increment(by_token, "visits", 5, DEVICE) == 6
    sesame.patch(by_token, DEVICE, set={"word": "x"})
    with pytest.raises(e.NotAnInteger):
        sesame.increment(by_token, "word", device=DEVICE)

    rotated = sesame.rotate(by_token, DEVICE)
    assert rotated.session.id != issued.session.id
    assert rotated.session.user == "alice"
    with pytest.raises(e.SessionRotated) as gone:
        sesame.validate(by_token, DEVICE)
    assert gone.value.reason == "rotated"
    assert gone.value.clear_cookie
    assert "Max-Age=0" in gone.value.clear_cookie

    logged_in = sesame.rotate(Token(rotated.token), DEVICE, user="bob")
    assert logged_in.session.user == "bob"
    ended = sesame.end(Cookie(logged_in.cookie or ""), DEVICE)
    assert ended.ended is True
    assert ended.clear_cookie.startswith("__Host-sesame=; Path=/; Max-Age=0;")
    assert sesame.end(Token(logged_in.token), DEVICE).ended is False
    with pytest.raises(e.SessionLoggedOut):
        sesame.validate(Token(logged_in.token), DEVICE)


def test_admin_operations(sesame: Sesame) -> None:
    user = "carol-admin"
    sesame.revoke_user(user)
    first = sesame.create(user, device=DEVICE)
    second = sesame.create(user, device=DEVICE)
    listed = sesame.list_user(user)
    assert [s.id for s in listed] == [first.session.id, second.session.id]

    inspection = sesame.inspect(Token(first.token))
    assert inspection.live
    assert inspection.user == user
    assert inspection.idle_seconds_left
    assert sesame.inspect_id(first.session.id).id == first.session.id
    report = sesame.decode_cookie(first.cookie or "")
    assert report.valid
    assert report.session_id == first.session.id
    assert not sesame.decode_cookie("gAAAAAforged").valid

    assert sesame.revoke_id(first.session.id) is True
    assert sesame.revoke_id(first.session.id) is False
    ended = sesame.inspect_id(first.session.id)
    assert (ended.live, ended.end_reason) == (False, "revoked")
    assert sesame.revoke_user(user, except_token=second.token) == []
    third = sesame.create(user, device=DEVICE)
    assert sesame.revoke_user(user, except_id=third.session.id) == [second.session.id]
    assert sesame.revoke_user(user) == [third.session.id]
    assert sesame.cleanup().duration_ms >= 0

    with pytest.raises(e.InvalidSessionId):
        sesame.inspect_id("not-hex")
    with pytest.raises(e.InvalidUserId):
        sesame.list_user("x" * 1000)
    with pytest.raises(ValueError, match="must not be empty"):
        sesame.list_user("")


def test_cookie_policy_is_cached(sesame: Sesame) -> None:
    policy = sesame.cookie_policy()
    assert (policy.name, policy.secure, policy.http_only, policy.same_site) == (
        "__Host-sesame",
        True,
        True,
        "Strict",
    )
    assert sesame.cookie_policy() is policy
    assert sesame.cookie_policy(refresh=True) == policy


def test_one_exception_class_per_refusal(sesame: Sesame, server: Server) -> None:
    with pytest.raises(e.InvalidSession) as invalid:
        sesame.validate(Cookie("gAAAAAforged"), DEVICE)
    assert invalid.value.status == 401
    assert invalid.value.code == "invalid"
    assert isinstance(invalid.value, e.SessionRefused)
    issued = sesame.create("dave", device=DEVICE)
    with pytest.raises(e.DeviceMismatch) as mismatch:
        sesame.validate(Token(issued.token), Device(user_agent="curl/8"))
    assert isinstance(mismatch.value, e.SessionEnded)
    assert mismatch.value.reason == "device_mismatch"

    with Sesame(server.url, "sk_wrong") as wrong, pytest.raises(e.InvalidApiKey):
        wrong.cookie_policy()
    with Sesame(server.url, server.validate_key) as edge, pytest.raises(e.Forbidden):
        edge.create("dave")
    with pytest.raises(e.InvalidUserId):
        sesame.create("x" * 300)


def test_limit_reached_is_its_own_class(make_server: ServerFactory) -> None:
    server = make_server(
        "memory", {"policy": {"max_sessions_per_user": 1, "on_limit": "reject_new"}}
    )
    with Sesame(server.url, server.admin_key) as sesame:
        sesame.create("erin", device=DEVICE)
        with pytest.raises(e.LimitReached):
            sesame.create("erin", device=DEVICE)


@pytest.mark.anyio
async def test_the_async_client_does_the_same(server: Server) -> None:
    async with AsyncSesame(server.url, server.admin_key) as sesame:
        issued = await sesame.create("frank", data={"n": 1}, device=DEVICE)
        cookie = Cookie(issued.cookie or "")
        assert (await sesame.validate(cookie, DEVICE)).session.user == "frank"
        assert (await sesame.get(cookie, DEVICE)).data == {"n": 1}
        assert (await sesame.patch(cookie, DEVICE, set={"n": 2})).data == {"n": 2}
        assert await sesame.increment(cookie, "n", 3, DEVICE) == 5
        assert (await sesame.cookie_policy()).name == "__Host-sesame"
        assert (await sesame.inspect(cookie)).live
        assert [s.id for s in await sesame.list_user("frank")][-1] == issued.session.id
        rotated = await sesame.rotate(cookie, DEVICE)
        with pytest.raises(e.SessionRotated):
            await sesame.get(cookie, DEVICE)
        assert (await sesame.inspect_id(rotated.session.id)).live
        assert (await sesame.end(Token(rotated.token), DEVICE)).ended
        assert await sesame.revoke_user("frank") == []
        assert await sesame.revoke_id(rotated.session.id) is False
        assert not (await sesame.decode_cookie("x")).valid
        assert (await sesame.cleanup()).scanned >= 0


# ------------------------------------------------------------------ failures and retries


class _Flaky(BaseHTTPRequestHandler):
    """Answers the first ``fail`` requests 503 ``store_unavailable``, then like sesame's
    cookie-policy endpoint; counts requests per path."""

    fail = 0
    seen: dict[str, int] = {}  # noqa: RUF012 - reset per test

    def _answer(self) -> None:
        n = self.seen.get(self.path, 0) + 1
        self.seen[self.path] = n
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        if n <= self.fail:
            body = b'{"code":"store_unavailable","message":"down"}'
            self.send_response(503)
            self.send_header("Retry-After", "0")
        else:
            body = (
                b'{"name":"__Host-sesame","path":"/","domain":null,"secure":true,'
                b'"http_only":true,"same_site":"Strict","development":false}'
            )
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[str]:
    _Flaky.seen = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_retries_only_what_is_idempotent(flaky: str) -> None:
    # Not through the OpenAPI check: this server is a stand-in.
    client = httpx.Client(base_url=flaky)
    _Flaky.fail = 2
    sesame = Sesame(flaky, "sk_x", retries=2, http_client=client)
    assert sesame.cookie_policy().name == "__Host-sesame"  # GET: retried twice
    assert _Flaky.seen["/v1/cookie-policy"] == 3
    _Flaky.seen.clear()
    with pytest.raises(e.StoreUnavailable) as unavailable:
        sesame.create("x")  # POST create: never retried once sent
    assert _Flaky.seen["/v1/sessions"] == 1
    assert unavailable.value.retry_after == 0
    _Flaky.seen.clear()
    _Flaky.fail = 5
    with pytest.raises(e.StoreUnavailable):
        sesame.cookie_policy(refresh=True)  # GET: 1 + 2 retries, then raised
    assert _Flaky.seen["/v1/cookie-policy"] == 3


def test_an_unreachable_sesame_is_unavailable_fast() -> None:
    port = free_port()
    sesame = Sesame(f"http://127.0.0.1:{port}", "sk_x", retries=1, connect_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(e.ConnectionFailed) as failed:
        sesame.validate(Token("A" * 43), DEVICE)
    assert isinstance(failed.value, e.SesameUnavailable)
    assert time.monotonic() - started < 2


def test_a_silent_sesame_times_out() -> None:
    with socket_that_never_answers() as url:
        sesame = Sesame(url, "sk_x", timeout=0.3, retries=0)
        started = time.monotonic()
        with pytest.raises(e.ConnectionFailed):
            sesame.get(Token("A" * 43))
        assert 0.25 < time.monotonic() - started < 2


class socket_that_never_answers:  # noqa: N801 - used as a context manager
    """A listening socket that accepts and never answers."""

    def __enter__(self) -> str:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_settings_are_bounded() -> None:
    for bad in (
        {"base_url": "ftp://x"},
        {"api_key": ""},
        {"api_key": "a b"},
        {"timeout": 0},
        {"retries": 11},
        {"policy_ttl": 61},
        {"max_retry_wait": -1},
    ):
        args: dict[str, object] = {"base_url": "http://127.0.0.1:1", "api_key": "sk", **bad}
        with pytest.raises(ValueError, match="must be"):
            Sesame(**args)  # type: ignore[arg-type]


def test_errors_map_every_code_of_the_document() -> None:
    from conftest import OPENAPI

    codes = OPENAPI["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
    missing = [c for c in codes if c not in e.ERRORS_BY_CODE]
    assert missing == []
    error = e.error_from_response(401, {"code": "newer_reason", "message": "m"}, None)
    assert type(error) is e.SessionRefused
    proxy = e.error_from_response(502, "<html>", None)
    assert isinstance(proxy, e.SesameUnavailable)


def test_what_sesame_did_not_start_is_retried_for_every_operation() -> None:
    from sesame_client._base import Settings

    settings = Settings("http://127.0.0.1:1", "sk", 5, 1, 2, 1.0, 10, 60)
    create = _calls.create("u", None, None)  # not idempotent
    overloaded = e.error_from_response(503, {"code": "overloaded", "message": "m"}, "1")
    assert isinstance(overloaded, e.Overloaded)
    assert _calls.next_wait(create, overloaded, 0, settings) == 1.0
    unavailable = e.error_from_response(503, {"code": "store_unavailable", "message": "m"}, "1")
    with pytest.raises(e.StoreUnavailable):
        _calls.next_wait(create, unavailable, 0, settings)
    with pytest.raises(e.Overloaded):
        _calls.next_wait(create, overloaded, 2, settings)  # retries spent
