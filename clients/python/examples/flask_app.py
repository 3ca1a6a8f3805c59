"""The seed's app on sesame, in Flask: login, profile, logout, "my sessions", "log out
everywhere". SESAME_URL=... SESAME_API_KEY=... flask --app examples.flask_app run"""

import hmac

from flask import Flask, g, redirect, request
from markupsafe import escape
from werkzeug.wrappers import Response

from sesame_client.flask import FlaskSesame, session_required

USERS = {"alice": "wonderland", "bob": "builder"}  # a real app checks password hashes
FORM = "<form method=post><input name=user><input name=password type=password><button>Log in"
app = Flask(__name__)
sesame = FlaskSesame(app, login_url="/login")  # SESAME_URL, SESAME_API_KEY (admin scope)


@app.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if request.method == "GET":
        return FORM
    user, password = request.form.get("user", ""), request.form.get("password", "")
    if not hmac.compare_digest(USERS.get(user, "\0"), password):
        return FORM, 401
    sesame.login(user)
    to = request.args.get("next", "/profile")  # only a path here: no open redirect
    return redirect(to if to.startswith("/") and not to.startswith("//") else "/", 303)


@app.get("/profile")
@session_required
def profile() -> str:
    visits = g.session.increment("visits")
    return f"""<h1>Hello {escape(g.session.user)}</h1><p>{visits} visits. <a href=/sessions>My
        sessions</a><form method=post action=/logout><button>Log out</button></form>"""


@app.post("/logout")
def logout() -> Response:
    sesame.logout()
    return redirect("/login", 303)


@app.get("/sessions")
@session_required
def my_sessions() -> str:
    rows = "".join(
        f"<li>{escape(s.device.user_agent)}, since {s.created_at}"
        f"{' (this one)' if s.id == g.session.id else ''}"
        for s in sesame.client.list_user(g.session.user)
    )
    return f"<ul>{rows}</ul><form method=post action=/logout-everywhere><button>Log out everywhere"


@app.post("/logout-everywhere")
@session_required
def logout_everywhere() -> Response:
    sesame.client.revoke_user(g.session.user)
    sesame.logout()  # the session is revoked: this removes its cookie
    return redirect("/login", 303)
