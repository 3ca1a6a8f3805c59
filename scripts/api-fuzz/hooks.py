"""schemathesis hooks for scripts/api-fuzz.sh (`map_case` is the hook every
phase applies to a generated case).

1. A session endpoint takes its session in Sesame-Token or in Sesame-Cookie,
   never both (400 `ambiguous_credential`, tested in
   crates/sesame-server/tests/api.rs). OpenAPI cannot say "one of these two
   header parameters", so the generator would send both and report the 400
   as a schema-valid request rejected. When a case has both, keep the token.

2. A generated token names no session, so every session endpoint would
   answer 401 `invalid` before reaching its handler. In a schema-valid
   (positive) case outside the stateful phase (which chains real tokens
   through the document's links), a non-empty generated token is replaced
   by the token of a fresh session (`{"data": {"n": 0}}`, anonymous), so
   the generated bodies reach the engine. An empty one stays: the unknown-
   token path is fuzzed too.

3. User ids and data keys are limited to 256 *bytes* of UTF-8; JSON
   Schema's maxLength counts characters, so the document says 256 (exact
   for ASCII) and the description says bytes. A schema-valid id or key of
   at most 256 characters but over 256 bytes is refused with 400
   `invalid_user_id` / `invalid_key` "longer than 256 bytes": that one
   failure is dropped (the run reports how many were), every other stays.
"""

import os

import requests
import schemathesis

BASE = os.environ["SESAME_FUZZ_BASE"]
KEY = os.environ["SESAME_FUZZ_KEY"]
_http = requests.Session()


def _fresh_token():
    response = _http.post(
        f"{BASE}/v1/sessions",
        json={"data": {"n": 0}},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["token"]


@schemathesis.hook
def map_case(context, case):
    headers = case.headers
    if not headers or "Sesame-Token" not in headers:
        return case
    headers.pop("Sesame-Cookie", None)
    meta = case.meta
    if (
        meta is not None
        and meta.generation.mode == "positive"
        and meta.phase.name != "stateful"
        and headers["Sesame-Token"]
    ):
        headers["Sesame-Token"] = _fresh_token()
    return case


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if failure.code != "ST202" or response.status_code != 400:
        return True
    try:
        body = response.json()
    except ValueError:
        return True
    return not (
        isinstance(body, dict)
        and body.get("code") in ("invalid_user_id", "invalid_key")
        and body.get("message", "").endswith("longer than 256 bytes")
    )
