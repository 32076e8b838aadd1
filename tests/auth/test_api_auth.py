"""The sign-in routes: tokens, their expiry and revocation, the console cookie and CSRF."""

from __future__ import annotations

from sqlalchemy import select

from arrears.auth.models import AuditEntry, AuthSession
from arrears.kit.db import unit_of_work

from .conftest import PASSWORD, add_users


def test_a_token_is_issued_for_the_right_password(api, engine):
    add_users(engine, ("li.na", "collector"))
    response = api.client.post(
        "/api/v1/auth/token",
        data={"username": "li.na", "password": PASSWORD, "grant_type": "password"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    assert body["access_token"].startswith("arr_")


def test_only_the_hash_of_a_token_is_stored(api, engine):
    add_users(engine, ("li.na", "collector"))
    token = api.token("li.na")
    with unit_of_work(engine) as session:
        stored = session.scalars(select(AuthSession.token_hash)).one()
    assert token not in stored
    assert len(stored) == 64


def test_me_shows_the_caller_and_their_permissions(api, engine):
    add_users(engine, ("li.na", "collector", {"team": "Team A", "display_name": "李娜"}))
    body = api.client.get("/api/v1/auth/me", headers=api.headers("li.na")).json()
    assert body["username"] == "li.na"
    assert body["display_name"] == "李娜"
    assert body["team"] == "Team A"
    assert "customers:read" in body["permissions"]
    assert "payments:write" not in body["permissions"]


def test_a_wrong_password_answers_401_invalid_credentials(api, engine):
    add_users(engine, ("li.na", "collector"))
    response = api.client.post(
        "/api/v1/auth/token", data={"username": "li.na", "password": "not the password!"}
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_credentials"
    assert "not the password" not in response.text


def test_failed_attempts_are_kept_although_the_request_fails(api, engine):
    add_users(engine, ("li.na", "collector"))
    for _ in range(5):
        api.client.post("/api/v1/auth/token", data={"username": "li.na", "password": "x" * 12})
    response = api.client.post(
        "/api/v1/auth/token", data={"username": "li.na", "password": PASSWORD}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "account_locked"
    assert int(response.headers["Retry-After"]) == 15 * 60
    with unit_of_work(engine) as session:
        failures = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "auth.sign_in_failed")
        ).all()
    assert len(failures) == 5
    api.clock.advance(minutes=15)
    assert api.token("li.na")


def test_too_many_attempts_answers_429_with_retry_after(api, engine):
    add_users(engine, ("li.na", "collector"))
    for _ in range(10):
        api.client.post("/api/v1/auth/token", data={"username": "nobody", "password": "x" * 12})
    response = api.client.post(
        "/api/v1/auth/token", data={"username": "li.na", "password": PASSWORD}
    )
    assert response.status_code == 429
    assert response.json()["code"] == "too_many_attempts"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    api.clock.advance(minutes=1)
    assert api.token("li.na")


def test_no_token_answers_401_not_authenticated_with_a_bearer_challenge(api):
    response = api.client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_an_unknown_token_answers_401(api):
    response = api.client.get("/api/v1/auth/me", headers={"Authorization": "Bearer arr_forged"})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_another_authorization_scheme_answers_401(api):
    response = api.client.get("/api/v1/auth/me", headers={"Authorization": "Basic bGk6bmE="})
    assert response.status_code == 401


def test_a_token_expires_after_30_minutes(api, engine):
    add_users(engine, ("li.na", "collector"))
    headers = api.headers("li.na")
    api.clock.advance(minutes=29, seconds=59)
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 200
    api.clock.advance(seconds=1)
    response = api.client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_the_token_lifetime_is_a_setting(api, engine, monkeypatch):
    from arrears.auth.settings import get_auth_settings

    monkeypatch.setenv("ARREARS_TOKEN_MINUTES", "5")
    get_auth_settings.cache_clear()
    add_users(engine, ("li.na", "collector"))
    response = api.client.post(
        "/api/v1/auth/token", data={"username": "li.na", "password": PASSWORD}
    )
    assert response.json()["expires_in"] == 300


def test_signing_out_revokes_the_token(api, engine):
    add_users(engine, ("li.na", "collector"))
    headers = api.headers("li.na")
    other = api.headers("li.na")
    assert api.client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 401
    assert api.client.get("/api/v1/auth/me", headers=other).status_code == 200


def test_delete_session_also_signs_out(api, engine):
    add_users(engine, ("li.na", "collector"))
    headers = api.headers("li.na")
    assert api.client.delete("/api/v1/auth/session", headers=headers).status_code == 204
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_disabling_a_user_ends_their_sessions(api, engine):
    from arrears.auth import service

    add_users(engine, ("li.na", "collector"))
    headers = api.headers("li.na")
    with unit_of_work(engine) as session:
        service.disable_user(db_session=session, username="li.na")
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_a_role_without_the_permission_answers_403_forbidden(api, engine):
    add_users(engine, ("li.na", "collector"), ("wang.fang", "auditor"))
    response = api.client.get("/api/v1/audit", headers=api.headers("li.na"))
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "forbidden"
    assert body["required"] == "audit:read"
    assert api.client.get("/api/v1/audit", headers=api.headers("wang.fang")).status_code == 200


# --- the console cookie -----------------------------------------------------------------


def open_console_session(api, username="li.na", *, as_json=True):
    credentials = {"username": username, "password": PASSWORD}
    if as_json:
        response = api.client.post("/api/v1/auth/session", json=credentials)
    else:
        response = api.client.post("/api/v1/auth/session", data=credentials)
    assert response.status_code == 200, response.text
    return response


def test_a_console_session_sets_an_http_only_strict_cookie(api, engine):
    add_users(engine, ("li.na", "collector"))
    response = open_console_session(api)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("arrears_session=arr_")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain HTTP in the test
    body = response.json()
    assert body["csrf_token"]
    assert body["user"]["username"] == "li.na"


def test_the_cookie_is_secure_when_tls_is_on(api, engine, monkeypatch):
    from arrears.auth.settings import get_auth_settings

    monkeypatch.setenv("ARREARS_TLS", "true")
    get_auth_settings.cache_clear()
    add_users(engine, ("li.na", "collector"))
    assert "Secure" in open_console_session(api).headers["set-cookie"]


def test_the_console_signs_in_with_a_form_too(api, engine):
    add_users(engine, ("li.na", "collector"))
    assert open_console_session(api, as_json=False).json()["csrf_token"]


def test_the_console_session_body_is_validated(api):
    response = api.client.post("/api/v1/auth/session", json={"username": "li.na"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.password"


def test_the_cookie_authenticates_safe_requests_without_csrf(api, engine):
    add_users(engine, ("li.na", "collector"))
    open_console_session(api)
    assert api.client.get("/api/v1/auth/me").json()["username"] == "li.na"


def test_an_unsafe_request_by_cookie_needs_the_csrf_token(api, engine):
    add_users(engine, ("li.na", "collector"))
    csrf = open_console_session(api).json()["csrf_token"]
    response = api.client.post("/api/v1/auth/logout")
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    wrong = api.client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    right = api.client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert right.status_code == 204
    api.client.cookies.clear()


def test_signing_out_of_the_console_clears_the_cookie_and_revokes_it(api, engine):
    add_users(engine, ("li.na", "collector"))
    response = open_console_session(api)
    token = api.client.cookies.get("arrears_session")
    csrf = response.json()["csrf_token"]
    out = api.client.delete("/api/v1/auth/session", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert 'arrears_session=""' in out.headers["set-cookie"]
    api.client.cookies.set("arrears_session", token)
    assert api.client.get("/api/v1/auth/me").status_code == 401


def test_a_bearer_token_needs_no_csrf_token(api, engine):
    add_users(engine, ("li.na", "collector"))
    headers = api.headers("li.na")
    assert api.client.post("/api/v1/auth/logout", headers=headers).status_code == 204


# --- one-time passwords -----------------------------------------------------------------


def test_a_one_time_password_allows_only_a_password_change(api, engine):
    from arrears.auth import service

    add_users(engine, ("wang.fang", "auditor"))
    with unit_of_work(engine) as session:
        _, one_time = service.reset_password(db_session=session, username="wang.fang")
    headers = api.headers("wang.fang", one_time)
    assert api.client.get("/api/v1/auth/me", headers=headers).json()["must_change_password"]
    refused = api.client.get("/api/v1/audit", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "password_change_required"
    changed = api.client.post(
        "/api/v1/auth/password",
        headers=headers,
        json={"current_password": one_time, "new_password": "Brand-New-Lantern-2026"},
    )
    assert changed.status_code == 204
    assert api.client.get("/api/v1/audit", headers=headers).status_code == 200


def test_a_password_change_checks_the_current_password_and_the_policy(api, engine):
    add_users(engine, ("li.na", "collector"))
    headers = api.headers("li.na")
    wrong = api.client.post(
        "/api/v1/auth/password",
        headers=headers,
        json={"current_password": "not it at all", "new_password": "Brand-New-Lantern-2026"},
    )
    assert wrong.json()["code"] == "wrong_password"
    weak = api.client.post(
        "/api/v1/auth/password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": "password123456"},
    )
    assert weak.status_code == 422
    assert weak.json()["code"] == "weak_password"


def test_a_page_of_another_site_cannot_sign_a_browser_in(api, engine):
    add_users(engine, ("li.na", "collector"))
    response = api.client.post(
        "/api/v1/auth/session",
        json={"username": "li.na", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "cross_site_sign_in"
    same_site = api.client.post(
        "/api/v1/auth/session",
        json={"username": "li.na", "password": PASSWORD},
        headers={"Origin": "http://testserver"},
    )
    assert same_site.status_code == 200


def test_a_console_served_elsewhere_is_allowed_by_the_cors_origins(api, engine, monkeypatch):
    from arrears.auth.settings import get_auth_settings

    monkeypatch.setenv("ARREARS_CORS_ORIGINS", "https://console.example, https://other.example")
    get_auth_settings.cache_clear()
    add_users(engine, ("li.na", "collector"))
    response = api.client.post(
        "/api/v1/auth/session",
        json={"username": "li.na", "password": PASSWORD},
        headers={"Origin": "https://console.example"},
    )
    assert response.status_code == 200
