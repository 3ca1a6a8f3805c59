"""The seed's app on sesame, in Django (one file): login, profile, logout, "my sessions",
"log out everywhere". SESAME_URL=... SESAME_API_KEY=... python examples/django_app.py runserver
"""

import hmac
import os
import sys

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.urls import path
from django.utils.html import escape
from django.views.decorators.http import require_POST

from sesame_client.django import client, login, logout, session_of, session_required

if not settings.configured:
    settings.configure(
        DEBUG=True,
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["localhost", "127.0.0.1", "testserver"],
        MIDDLEWARE=["sesame_client.django.SesameMiddleware"],
        SESAME={"URL": os.environ.get("SESAME_URL"), "API_KEY": os.environ.get("SESAME_API_KEY"),
                "LOGIN_URL": "/login"},  # the key needs the admin scope for "my sessions"
    )  # fmt: skip
USERS = {"alice": "wonderland", "bob": "builder"}  # a real app checks password hashes
FORM = "<form method=post><input name=user><input name=password type=password><button>Log in"


def login_view(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(FORM)
    user, password = request.POST.get("user", ""), request.POST.get("password", "")
    if not hmac.compare_digest(USERS.get(user, "\0"), password):
        return HttpResponse(FORM, status=401)
    login(request, user)
    target = request.GET.get("next", "/profile")
    ok = target.startswith("/") and not target.startswith("//")
    return HttpResponseRedirect(target if ok else "/", status=303)


@session_required
def profile(request: HttpRequest) -> HttpResponse:
    s = session_of(request)
    return HttpResponse(f"""<h1>Hello {escape(s.user)}</h1><p>{s.increment("visits")} visits.
        <a href=/sessions>My sessions</a><form method=post action=/logout><button>Log out""")


@require_POST
def logout_view(request: HttpRequest) -> HttpResponseBase:
    logout(request)
    return HttpResponseRedirect("/login", status=303)


@session_required
def my_sessions(request: HttpRequest) -> HttpResponse:
    s = session_of(request)
    rows = "".join(
        f"<li>{escape(x.device.user_agent)}, since {x.created_at}{' (this one)' * (x.id == s.id)}"
        for x in client(request).list_user(s.user or "")
    )
    return HttpResponse(f"<ul>{rows}</ul><form method=post action=/logout-everywhere><button>Go")


@require_POST
@session_required
def logout_everywhere(request: HttpRequest) -> HttpResponseBase:
    client(request).revoke_user(session_of(request).user or "")
    logout(request)  # the session is revoked: this removes its cookie
    return HttpResponseRedirect("/login", status=303)


urlpatterns = [
    path("login", login_view),
    path("profile", profile),
    path("logout", logout_view),
    path("sessions", my_sessions),
    path("logout-everywhere", logout_everywhere),
]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
