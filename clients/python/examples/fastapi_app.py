"""The seed's app on sesame, in FastAPI: login, profile, logout, "my sessions", "log out
everywhere". SESAME_URL=... SESAME_API_KEY=... uvicorn examples.fastapi_app:app"""

import hmac
from html import escape
from typing import Annotated

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from sesame_client.fastapi import AsyncCurrentSession, FastAPISesame

USERS = {"alice": "wonderland", "bob": "builder"}  # a real app checks password hashes
FORM = "<form method=post><input name=user><input name=password type=password><button>Log in"
sesame = FastAPISesame(login_url="/login")  # SESAME_URL, SESAME_API_KEY (admin scope)
app = FastAPI()
sesame.install(app)
Current = Annotated[AsyncCurrentSession, Depends(sesame.require_session)]


@app.get("/login", response_class=HTMLResponse)
async def login_form() -> str:
    return FORM


@app.post("/login", response_model=None)
async def login(
    request: Request, user: Annotated[str, Form()], password: Annotated[str, Form()]
) -> HTMLResponse | RedirectResponse:
    if not hmac.compare_digest(USERS.get(user, "\0"), password):
        return HTMLResponse(FORM, 401)
    await sesame.login(request, user)
    target = request.query_params.get("next", "/profile")
    ok = target.startswith("/") and not target.startswith("//")
    return RedirectResponse(target if ok else "/", 303)


@app.get("/profile", response_class=HTMLResponse)
async def profile(s: Current) -> str:
    visits = await s.increment("visits")
    return f"""<h1>Hello {escape(s.user or "")}</h1><p>{visits} visits. <a href=/sessions>My
        sessions</a><form method=post action=/logout><button>Log out</button></form>"""


@app.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    await sesame.logout(request)
    return RedirectResponse("/login", 303)


@app.get("/sessions", response_class=HTMLResponse)
async def my_sessions(s: Current) -> str:
    rows = "".join(
        f"<li>{escape(x.device.user_agent or '')}, since {x.created_at}"
        f"{' (this one)' if x.id == s.id else ''}"
        for x in await sesame.client.list_user(s.user or "")
    )
    return f"<ul>{rows}</ul><form method=post action=/logout-everywhere><button>Log out everywhere"


@app.post("/logout-everywhere")
async def logout_everywhere(request: Request, s: Current) -> RedirectResponse:
    await sesame.client.revoke_user(s.user or "")
    await sesame.logout(request)  # the session is revoked: this removes its cookie
    return RedirectResponse("/login", 303)
