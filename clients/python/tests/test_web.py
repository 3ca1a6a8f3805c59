"""The integrations' request rules without a framework: the client address behind
trusted proxies, which credential counts, the device, development mode's hosts."""

from __future__ import annotations

import pytest
from conftest import ServerFactory

from sesame_client import Cookie, Device, Token, _calls
from sesame_client._web import (
    Found,
    Refusal,
    RequestFacts,
    WebSettings,
    check_host,
    client_ip,
    cookie_values,
    device_of,
    find_credential,
    is_loopback_host,
)
from sesame_client.errors import CookiePolicyError
from sesame_client.models import CookiePolicy


def facts(**kw: str | None) -> RequestFacts:
    base: dict[str, str | None] = {
        "method": "GET",
        "path": "/",
        "host": "example.com",
        "cookie_header": None,
        "authorization": None,
        "user_agent": "UA/1",
        "peer": "198.51.100.1",
        "forwarded_for": None,
    }
    base.update(kw)
    return RequestFacts(**base)  # type: ignore[arg-type]


def test_the_client_address_behind_trusted_proxies() -> None:
    proxies = WebSettings.build(trusted_proxies=["10.0.0.0/8", "::1"]).trusted_proxies
    # No trusted proxies: the socket peer, whatever the header says.
    assert client_ip("203.0.113.9", "1.2.3.4", ()) == "203.0.113.9"
    # An untrusted peer cannot speak for anyone else.
    assert client_ip("203.0.113.9", "1.2.3.4", proxies) == "203.0.113.9"
    # A trusted peer: the right-most address that is not a trusted proxy; what the
    # client wrote at the left is ignored.
    assert client_ip("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.9", proxies) == "198.51.100.7"
    assert client_ip("10.0.0.2", "10.0.0.3", proxies) == "10.0.0.3"
    assert client_ip("10.0.0.2", None, proxies) == "10.0.0.2"
    # A malformed hop stops the walk at the last trusted address.
    assert client_ip("10.0.0.2", "198.51.100.7, bogus", proxies) == "10.0.0.2"
    assert client_ip("::1", "2001:db8::5", proxies) == "2001:db8::5"
    assert client_ip("::ffff:192.0.2.1", None, ()) == "192.0.2.1"
    assert client_ip("fe80::1%eth0", None, ()) == "fe80::1"
    assert client_ip("not an ip", None, ()) is None
    with pytest.raises(ValueError, match="does not appear to be"):
        WebSettings.build(trusted_proxies=["10.0.0.0/33"])
    with pytest.raises(ValueError, match="a path on this site"):
        WebSettings.build(login_url="https://evil.example/login")


def test_which_credential_counts() -> None:
    s = WebSettings()
    assert find_credential(facts(), "__Host-sesame", s) is None
    found = find_credential(facts(cookie_header="a=1; __Host-sesame=gAAA; b=2"), "__Host-sesame", s)
    assert found == Found(Cookie("gAAA"), "cookie")
    # Bearer wins over the cookie (it cannot be sent cross-site).
    both = facts(cookie_header="__Host-sesame=gAAA", authorization="Bearer tok")
    assert find_credential(both, "__Host-sesame", s) == Found(Token("tok"), "bearer")
    # ...unless bearer is off.
    assert find_credential(both, "__Host-sesame", WebSettings(bearer=False)) == Found(
        Cookie("gAAA"), "cookie"
    )
    # A tossed cookie (the name twice) and an oversized one are refused locally.
    tossed = facts(cookie_header="__Host-sesame=a; __Host-sesame=b")
    assert find_credential(tossed, "__Host-sesame", s) == Refusal("invalid", None, "cookie")
    huge = facts(cookie_header="__Host-sesame=" + "a" * 5000)
    assert isinstance(find_credential(huge, "__Host-sesame", s), Refusal)
    # An empty value (a removed cookie some clients still send) is no credential.
    assert find_credential(facts(cookie_header="__Host-sesame="), "__Host-sesame", s) is None
    assert cookie_values('x="quoted"; x2=1', "x") == ["quoted"]


def test_the_device_is_normalized_the_same_way_everywhere() -> None:
    d = device_of(facts(user_agent="Mözilla\x01", platform='"Linux"', mobile="?0"), WebSettings())
    assert d.hints == {"platform": "Linux", "mobile": "?0"}
    sent = _calls.normalize_device(d)
    assert sent.user_agent == "M?zilla?"
    headers = _calls.device_headers(d)
    assert headers["Sesame-Device-User-Agent"] == "M?zilla?"
    assert headers["Sesame-Device-Ip"] == "198.51.100.1"
    assert headers["Sesame-Device-Hints"] == '{"platform":"Linux","mobile":"?0"}'
    body = _calls.validate(Cookie("c"), d).body
    assert body is not None
    assert b'"user_agent":"M?zilla?"' in body
    long = _calls.normalize_device(Device(user_agent="x" * 5000))
    assert long.user_agent is not None
    assert len(long.user_agent) == _calls.MAX_DEVICE_TEXT


def test_development_mode_is_for_localhost_only() -> None:
    dev = CookiePolicy("sesame", "/", None, False, True, "Strict", True)
    for host in ("localhost", "localhost:5000", "127.0.0.1:8000", "[::1]:80", "::1"):
        assert is_loopback_host(host), host
        check_host(dev, host)
    public: tuple[str | None, ...] = ("example.com", "localhost.evil.com", "127.0.0.2", None)
    for other in public:
        with pytest.raises(CookiePolicyError, match="localhost only"):
            check_host(dev, other)
    strict = CookiePolicy("__Host-sesame", "/", None, True, True, "Strict", False)
    check_host(strict, "example.com")


def test_a_development_policy_refuses_a_public_host(make_server: ServerFactory) -> None:
    from apps import FlaskBrowser

    server = make_server("memory", {"cookie": {"development": True}})
    b = FlaskBrowser(server.url, server.admin_key)
    answer = b.post("/login", {"user": "alice", "password": "wonderland"})
    assert answer.status == 303
    assert answer.set_cookies[0].startswith("sesame=")
    assert "Secure" not in answer.set_cookies[0]
    assert b.get("/profile").status == 200
    public = FlaskBrowser(server.url, server.admin_key, host="example.com")
    cookie = b.cookie("sesame")
    assert cookie is not None
    public.set_cookie(cookie, name="sesame")
    refused = public.get("/profile")  # CookiePolicyError: a configuration error, loud
    assert (refused.status, refused.set_cookies) == (500, [])
