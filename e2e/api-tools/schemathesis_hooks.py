"""Schemathesis hooks for .ci/api-tools: how the fuzzer authenticates, and what it must not break.

Loaded through SCHEMATHESIS_HOOKS=schemathesis_hooks (with this folder on PYTHONPATH); reads
CODEX_API_BASE_URL, CODEX_ADMIN_EMAIL and CODEX_ADMIN_PASSWORD.

Every operation is fuzzed, the session-ending ones included (POST /auth/logout,
DELETE /auth/sessions/{session_id}, DELETE /admin/users/{user_id}/sessions): rather than
excluding them, the fuzzer's token is refreshed whenever it stops working. Schemathesis's
reactive re-authentication does that: an authenticated call answering 401 makes it drop the
cached token, ask the provider below for a new one (a new login) and replay the call once; an
operation whose replay still answers 401 (a wrong current password, say) is not retried again.

What re-authentication cannot repair is kept away from the accounts the run depends on:

* The administrator (CODEX_ADMIN_EMAIL) authenticates every operation but one, each time with a
  session of its own opened here (never the sessions of the client scripts, which log out).
* POST /auth/password checks the caller's current password, and every wrong one counts against
  the caller's account in the login throttle (CODEX_LOGIN_THROTTLE_FAILURES, then 429 for
  growing delays): fuzzed as the administrator, it would lock the administrator out of this run
  and of the next ones. It runs as a throwaway user created here for this run instead.
* The stateful phase learns the administrator's and the throwaway user's ids and e-mails from
  the answers (GET /auth/me, GET /admin/users) and feeds them to other operations. The
  `before_call` hook swaps them for unknown ones where they would disable the account or
  replace its password (POST /admin/users/{user_id}/disable, POST /admin/users/{user_id}/password),
  and in the e-mail of POST /auth/login (whose wrong passwords would throttle the account).
  Those operations are still fuzzed, on every other user.

One kind of failure is dropped (`filter_failure`): "schema-valid request rejected" (ST202) when
the answer is 400 `invalid_password` for a rule of the password policy that no JSON Schema keyword
can state (not one of the most common passwords; not containing the name part of the e-mail
address). The policy's length limits can be stated (minLength, maxLength), so their rejections
still fail the run; so does any other 400. The match is on the server's wording: if it changes,
the failures come back rather than being hidden.

Also dropped: ST202 answered 400 with the one code that says a parameter is not a secret this
server issued, which no schema can state and no fuzzer can produce: `invalid_state` from
GET /auth/oidc/callback (the state of a login this server began) and `invalid_invitation` from
GET /auth/oidc/login (an invitation's token). Any other 400 there still fails the run.

Failed logins also count per client address (CODEX_LOGIN_THROTTLE_ADDRESS_FAILURES, 100 per 15
minutes by default, then 429 for everyone on that address, documented): the fuzzing stays well
under it, but back-to-back runs against one server may reach it.
"""

from __future__ import annotations

import os
import secrets
import threading
import uuid

import requests
import schemathesis
import schemathesis.engine.observations as _observations

# Schemathesis 4.32.5 reads every string of a 2xx body that starts with `http://` as a link and
# crashes on one that is not a URL (`http://[x`: urlsplit raises ValueError), which a body may
# rightly hold (an identity's subject is any text). Such a string is no link to follow.
_same_origin_path = _observations._same_origin_path


def _same_origin_path_or_none(value, origin):
    try:
        return _same_origin_path(value, origin)
    except ValueError:
        return None


_observations._same_origin_path = _same_origin_path_or_none

BASE_URL = os.environ["CODEX_API_BASE_URL"].rstrip("/")
ADMIN_EMAIL = os.environ["CODEX_ADMIN_EMAIL"]
ADMIN_PASSWORD = os.environ["CODEX_ADMIN_PASSWORD"]
TIMEOUT = 30


def _login(email: str, password: str) -> str:
    response = requests.post(
        f"{BASE_URL}/auth/login", json={"email": email, "password": password}, timeout=TIMEOUT
    )
    if response.status_code != 200:
        raise RuntimeError(
            f"login of {email} answered {response.status_code}: {response.text[:300]}"
        )
    return response.json()["access_token"]


def _setup() -> tuple[str, str, str, str]:
    """The administrator's id; and a throwaway user's id, e-mail and password."""
    token = _login(ADMIN_EMAIL, ADMIN_PASSWORD)
    headers = {"Authorization": f"Bearer {token}"}
    me = requests.get(f"{BASE_URL}/auth/me", headers=headers, timeout=TIMEOUT)
    me.raise_for_status()
    email = f"fuzz-self-{uuid.uuid4().hex[:12]}@example.com"
    password = "fuzz " + secrets.token_urlsafe(24)
    created = requests.post(
        f"{BASE_URL}/admin/users",
        headers=headers,
        json={"email": email, "password": password, "is_admin": False},
        timeout=TIMEOUT,
    )
    if created.status_code != 201:
        raise RuntimeError(
            f"creating the throwaway user answered {created.status_code}: {created.text[:300]}"
        )
    return me.json()["id"], created.json()["id"], email, password


ADMIN_ID, SELF_ID, SELF_EMAIL, SELF_PASSWORD = _setup()
PROTECTED_IDS = {ADMIN_ID.lower(), SELF_ID.lower()}
PROTECTED_EMAILS = {ADMIN_EMAIL.strip().lower(), SELF_EMAIL.lower()}
# Operations that would lock a protected account out for good.
ACCOUNT_BREAKING = {
    ("POST", "/admin/users/{user_id}/disable"),
    ("POST", "/admin/users/{user_id}/password"),
}


def _requires_auth(ctx) -> bool:
    return bool(ctx.operation.definition.raw.get("security"))


class _LoginAuth:
    """A bearer token from a fresh login; the last good one when a login fails (429, say)."""

    email = ""
    password = ""

    def __init__(self) -> None:
        self._last: str | None = None
        self._lock = threading.Lock()

    def get(self, case, context):
        try:
            token = _login(self.email, self.password)
        except Exception:
            with self._lock:
                if self._last is None:
                    raise
                return self._last
        with self._lock:
            self._last = token
        return token

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


# The first provider that applies to an operation authenticates it.
@schemathesis.auth(refresh_interval=600).apply_to(operation_id="changePassword")
class ThrowawayUserAuth(_LoginAuth):
    email = SELF_EMAIL
    password = SELF_PASSWORD


@schemathesis.auth(refresh_interval=600).apply_to(_requires_auth).skip_for(
    operation_id="changePassword"
)
class AdministratorAuth(_LoginAuth):
    email = ADMIN_EMAIL
    password = ADMIN_PASSWORD


@schemathesis.hook
def before_call(context, case, **kwargs):
    operation = (case.operation.method.upper(), case.operation.path)
    if operation in ACCOUNT_BREAKING and isinstance(case.path_parameters, dict):
        user_id = case.path_parameters.get("user_id")
        if isinstance(user_id, str) and user_id.strip().lower() in PROTECTED_IDS:
            case.path_parameters["user_id"] = str(uuid.uuid4())
    if operation == ("POST", "/auth/login") and isinstance(case.body, dict):
        email = case.body.get("email")
        if isinstance(email, str) and email.strip().lower() in PROTECTED_EMAILS:
            case.body["email"] = "not-" + email.strip()


UNSTATABLE_PASSWORD_RULES = (
    "one of the most common passwords",
    "name part of the account's e-mail address",
)


# (operationId, problem code) of answers to a secret the fuzzer cannot know.
SERVER_ISSUED_SECRETS = {
    ("completeOidcLogin", "invalid_state"),
    ("beginOidcLogin", "invalid_invitation"),
}


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if failure.code != "ST202" or response.status_code != 400:
        return True
    try:
        body = response.json()
    except Exception:
        return True
    if not isinstance(body, dict):
        return True
    operation_id = case.operation.definition.raw.get("operationId")
    if (operation_id, body.get("code")) in SERVER_ISSUED_SECRETS:
        return False
    if body.get("code") != "invalid_password":
        return True
    detail = str(body.get("detail", ""))
    return not any(rule in detail for rule in UNSTATABLE_PASSWORD_RULES)
