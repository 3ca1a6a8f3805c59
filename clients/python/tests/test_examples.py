"""The examples (Flask, FastAPI, Django) driven end to end by their frameworks' test
clients against a real ``sesame serve``: login, renewal re-sets the cookie, logout clears
it, a forged cookie is 401, an evicted or revoked session is 401 with its reason, and
sesame down (or blocking the app server) is 503."""

from __future__ import annotations

import time

import pytest
from apps import COOKIE, FRAMEWORKS, Browser, browser
from conftest import Server, ServerFactory, free_port

from sesame_client import Sesame, Token

HTML = {"Accept": "text/html,application/xhtml+xml"}
CLEARED = f"{COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict; Expires="


@pytest.fixture(params=sorted(FRAMEWORKS))
def framework(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def logged_in(framework: str, server: Server, user: str = "alice") -> Browser:
    b = browser(framework, server.url, server.admin_key)
    answer = b.post("/login", {"user": user, "password": PASSWORDS[user]})
    assert answer.status == 303, answer.text
    assert answer.location == "/profile"
    [set_cookie] = answer.set_cookies
    value = b.cookie()
    assert value
    assert set_cookie == (f"{COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Strict")
    return b


PASSWORDS = {"alice": "wonderland", "bob": "builder"}


def test_login_profile_sessions_logout(framework: str, server: Server) -> None:
    b = browser(framework, server.url, server.admin_key)
    # No session: a page navigation goes to the login form, anything else gets 401 JSON.
    page = b.get("/profile", HTML)
    assert (page.status, page.location, page.set_cookies) == (303, "/login?next=/profile", [])
    api = b.get("/profile")
    assert api.status == 401
    assert api.json()["code"] == "invalid"
    assert b.post("/login", {"user": "alice", "password": "nope"}).status == 401
    assert b.cookie() is None

    b = logged_in(framework, server)
    first = b.get("/profile", HTML)
    assert first.status == 200
    assert "Hello alice" in first.text
    assert "1 visits" in first.text
    assert first.set_cookies == []  # nothing to change
    assert "2 visits" in b.get("/profile", HTML).text
    sessions = b.get("/sessions", HTML)
    assert sessions.status == 200
    assert "(this one)" in sessions.text

    cookie = b.cookie()
    assert cookie is not None
    out = b.post("/logout")
    assert (out.status, out.location) == (303, "/login")
    [cleared] = out.set_cookies
    assert cleared.startswith(CLEARED)
    assert b.cookie() is None
    # The old cookie, replayed, is refused with its reason and removed again.
    b.set_cookie(cookie)
    again = b.get("/profile")
    assert again.status == 401
    assert (again.json()["code"], again.json()["reason"]) == ("logged_out", "logged_out")
    assert again.set_cookies[0].startswith(CLEARED)


def test_a_forged_cookie_is_401_and_removed(framework: str, server: Server) -> None:
    b = browser(framework, server.url, server.admin_key)
    b.set_cookie("gAAAAABforgedforgedforgedforged")
    answer = b.get("/profile")
    assert answer.status == 401
    assert answer.json()["code"] == "invalid"
    assert answer.set_cookies[0].startswith(CLEARED)


def test_an_evicted_session_is_401_with_its_reason(framework: str, server: Server) -> None:
    first = logged_in(framework, server, "bob")
    for _ in range(5):  # the default cap is 5 sessions per user
        logged_in(framework, server, "bob")
    answer = first.get("/profile")
    assert answer.status == 401
    assert (answer.json()["code"], answer.json()["reason"]) == ("evicted", "evicted")
    assert answer.set_cookies[0].startswith(CLEARED)


def test_log_out_everywhere(framework: str, server: Server) -> None:
    here, there = logged_in(framework, server), logged_in(framework, server)
    out = here.post("/logout-everywhere")
    assert (out.status, out.location) == (303, "/login")
    assert out.set_cookies[-1].startswith(CLEARED)
    answer = there.get("/profile")
    assert answer.status == 401
    assert answer.json()["reason"] == "revoked"


def test_the_device_reaches_sesame(framework: str, server: Server) -> None:
    b = logged_in(framework, server)
    with Sesame(server.url, server.admin_key) as admin:
        newest = admin.list_user("alice")[-1]
    assert newest.device.ip == "127.0.0.1" or (framework == "fastapi" and newest.device.ip is None)
    # The user agent the test client sent is the one the session is bound to: another
    # one is a device mismatch (the session ends).
    assert b.get("/profile", {"User-Agent": "curl/8"}).json()["code"] == "device_mismatch"


def test_renewal_resets_the_cookie(framework: str, make_server: ServerFactory) -> None:
    server = make_server("memory", {"policy": {"renewal_interval": "2s", "renewal_grace": "2s"}})
    b = logged_in(framework, server)
    old = b.cookie()
    time.sleep(2.1)  # a black box: its clock cannot be moved; renewal is due after 2 s
    answer = b.get("/profile", HTML)
    assert answer.status == 200
    [renewed] = answer.set_cookies
    new = b.cookie()
    assert new
    assert new != old
    assert renewed == f"{COOKIE}={new}; Path=/; Secure; HttpOnly; SameSite=Strict"
    assert answer.headers.get("Cache-Control", answer.headers.get("cache-control")) == "no-store"
    follow = b.get("/profile", HTML)
    assert follow.status == 200
    assert follow.set_cookies == []


def test_sesame_down_is_503(framework: str, make_server: ServerFactory) -> None:
    server = make_server("memory")
    b = logged_in(framework, server)
    server.stop()
    answer = b.get("/profile", HTML)
    assert answer.status == 503
    assert answer.headers.get("Retry-After", answer.headers.get("retry-after")) == "1"
    assert answer.json()["error"] == "session_service_unavailable"
    # Never reachable at all (the cookie policy cannot even be fetched): 503 too.
    nowhere = browser(framework, f"http://127.0.0.1:{free_port()}", "sk_x")
    nowhere.set_cookie("gAAAAABwhatever")
    assert nowhere.get("/profile").status == 503
    assert nowhere.post("/login", {"user": "alice", "password": "wonderland"}).status == 503


def test_an_app_server_blocked_for_guessing_is_503(
    framework: str, make_server: ServerFactory
) -> None:
    server = make_server("memory", {"guard": {"max_invalid": 2}})
    b = browser(framework, server.url, server.admin_key)
    statuses = []
    for n in range(5):
        b.set_cookie(f"gAAAAABguess{n}")
        statuses.append(b.get("/profile").status)
    # Two invalid cookies allowed, the third blocks this address: sesame answers 429
    # too_many_invalid_tokens, which is the app's backend failing, not the user's fault.
    assert statuses == [401, 401, 401, 503, 503]


def test_an_api_client_uses_bearer(framework: str, server: Server) -> None:
    b = browser(framework, server.url, server.admin_key)
    with Sesame(server.url, server.admin_key) as admin:
        issued = admin.create("alice", device=None)
    ok = b.get("/profile", {"Authorization": f"Bearer {issued.token}", **HTML})
    assert ok.status == 200
    assert "Hello alice" in ok.text
    assert ok.set_cookies == []
    with Sesame(server.url, server.admin_key) as admin:
        admin.end(Token(issued.token))
    refused = b.get("/profile", {"Authorization": f"Bearer {issued.token}", **HTML})
    assert refused.status == 401  # an API client is never redirected to a form
    assert refused.json()["code"] == "logged_out"
    assert refused.set_cookies == []  # and has no cookie to remove
