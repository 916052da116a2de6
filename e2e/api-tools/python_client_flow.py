"""The user flow through the client that openapi-python-client generated from the served document.

Usage: python python_client_flow.py <generated_package_parent> <base_url> <admin_email> <admin_password>

login -> GET /auth/me with the bearer token -> logout -> GET /auth/me answers 401 ->
a fresh login -> GET /admin/users, POST /admin/users, GET /admin/users/{user_id} -> logout.
Each step asserts the status and the parsed (typed) result; the first failed step ends the run
with exit code 1.
"""

from __future__ import annotations

import sys
import uuid
from http import HTTPStatus

package_parent, base_url, admin_email, admin_password = sys.argv[1:5]
sys.path.insert(0, package_parent)

from codex_client import AuthenticatedClient, Client  # noqa: E402
from codex_client.api.admin import create_user, get_user, list_users  # noqa: E402
from codex_client.api.auth import get_current_user, login, logout  # noqa: E402
from codex_client.models import (  # noqa: E402
    CurrentUser,
    LoginRequest,
    NewUserRequest,
    TokenResponse,
    UserView,
)


STEPS = 0


def step(name: str, response, status: HTTPStatus, parsed_type=None):
    global STEPS
    got = HTTPStatus(response.status_code)
    if got != status:
        raise SystemExit(
            f"FAIL {name}: expected {int(status)}, got {int(got)}: {response.content[:300]!r}"
        )
    if parsed_type is not None and not isinstance(response.parsed, parsed_type):
        raise SystemExit(
            f"FAIL {name}: expected a parsed {parsed_type}, got {type(response.parsed)}: "
            f"{response.content[:300]!r}"
        )
    STEPS += 1
    print(f"ok   {name}: {int(got)}")
    return response.parsed


def log_in(client: Client, name: str) -> str:
    token = step(
        name,
        login.sync_detailed(
            client=client, body=LoginRequest(email=admin_email, password=admin_password)
        ),
        HTTPStatus.OK,
        TokenResponse,
    )
    assert token.token_type.lower() == "bearer", token.token_type
    assert token.expires_in > 0, token.expires_in
    assert token.access_token, "an empty access token"
    return token.access_token


def main() -> None:
    anonymous = Client(base_url=base_url)

    token = log_in(anonymous, "POST /auth/login")
    authed = AuthenticatedClient(base_url=base_url, token=token)
    me = step(
        "GET /auth/me", get_current_user.sync_detailed(client=authed), HTTPStatus.OK, CurrentUser
    )
    assert me.email.lower() == admin_email.lower(), me.email
    assert me.is_admin is True, me.is_admin

    step("POST /auth/logout", logout.sync_detailed(client=authed), HTTPStatus.NO_CONTENT)
    # The problem document's model is whatever the document names it: checked by its fields.
    problem = step(
        "GET /auth/me after logout",
        get_current_user.sync_detailed(client=authed),
        HTTPStatus.UNAUTHORIZED,
    )
    assert getattr(problem, "status", None) == 401, problem
    code = getattr(problem, "code", None)
    assert getattr(code, "value", code) == "invalid_token", code

    admin = AuthenticatedClient(base_url=base_url, token=log_in(anonymous, "POST /auth/login (again)"))
    users = step(
        "GET /admin/users", list_users.sync_detailed(client=admin, limit=500), HTTPStatus.OK, list
    )
    assert all(isinstance(user, UserView) for user in users), users
    assert any(user.email.lower() == admin_email.lower() for user in users), "admin not listed"

    email = f"py-client-{uuid.uuid4().hex[:12]}@example.com"
    created = step(
        "POST /admin/users",
        create_user.sync_detailed(
            client=admin, body=NewUserRequest(email=email, password=f"py client {uuid.uuid4()}")
        ),
        HTTPStatus.CREATED,
        UserView,
    )
    assert created.email == email and created.is_admin is False and created.has_password, created
    fetched = step(
        "GET /admin/users/{user_id}",
        get_user.sync_detailed(client=admin, user_id=created.id),
        HTTPStatus.OK,
        UserView,
    )
    assert fetched.id == created.id and fetched.email == email, fetched

    step("POST /auth/logout (again)", logout.sync_detailed(client=admin), HTTPStatus.NO_CONTENT)
    print(f"python client flow: {STEPS} steps passed")


if __name__ == "__main__":
    main()
