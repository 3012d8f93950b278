"""Sign-in through AppTest: the form, a good password, the lockout, and refusing demo settings on real data."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
import sqlalchemy as sa
import streamlit as st
from extra_streamlit_components import CookieManager
from streamlit.runtime.context import ContextProxy
from streamlit.testing.v1 import AppTest
from streamlit_authenticator.models import CookieModel

from components import auth
from dashboard import config
from dashboard.data import db, migrate, users

SCRIPT = """
import sqlalchemy as sa
import streamlit as st
from components import auth
from dashboard.data import db

engine = db.create_engine()
user = auth.signed_in_user(engine)
st.write(f"Welcome {user.name}")
auth.logout_button()
"""


def _database(tmp_path: Path, demo: bool) -> sa.Engine:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'auth.sqlite3'}")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(db.affiliates.insert().values(
            affiliate_id="NC-CHARLOTTE", name="Charlotte", kind="affiliate", state="NC", city="Charlotte"
        ))  # fmt: skip
        if demo:
            conn.execute(db.meta.insert().values(key="demo", value="true"))
    return engine


@pytest.fixture
def app_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def make(demo: bool = True) -> tuple[AppTest, sa.Engine]:
        engine = _database(tmp_path, demo)
        monkeypatch.setenv("DASHBOARD_DATABASE_URL", str(engine.url))
        monkeypatch.setenv("DASHBOARD_TESTING", "1")
        monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)
        script = tmp_path / "script.py"
        script.write_text(SCRIPT)
        st.cache_data.clear()
        st.cache_resource.clear()
        return AppTest.from_file(str(script), default_timeout=30), engine

    return make


def _sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="_auth_username").input(username)
    at.text_input(key="_auth_password").input(password)
    return at.button[0].click().run()


def _events(engine: sa.Engine, username: str) -> list[str]:
    return users.recent_audit(engine).query("username == @username")["event"].tolist()


def test_unauthenticated_shows_only_the_sign_in_form(app_for) -> None:
    at, _ = app_for()
    at.run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert len(at.button) == 1
    assert not at.markdown or all("Welcome" not in m.value for m in at.markdown)
    assert "user" not in at.session_state


@pytest.mark.parametrize("account", users.DEMO_ACCOUNTS, ids=lambda a: a.username)
def test_right_password_signs_in(app_for, account) -> None:
    at, engine = app_for()
    at.run()
    _sign_in(at, account.username, account.password)
    assert not at.exception
    user = at.session_state["user"]
    assert user.username == account.username and user.role == account.role
    assert at.session_state["scope"] == user.scope
    assert any(f"Welcome {account.name}" in m.value for m in at.markdown)
    assert not at.text_input  # the form is gone
    assert _events(engine, account.username)[0] == users.SIGNED_IN


def test_sign_out_and_deleted_account_show_the_form_again(app_for) -> None:
    at, engine = app_for()
    at.run()
    _sign_in(at, "board", "demo-board-pass")
    at.button(key="_auth_sign_out").click().run()
    assert not at.exception
    assert "user" not in at.session_state and len(at.text_input) == 2
    assert _events(engine, "board")[0] == "logout"
    _sign_in(at, "admin", "demo-admin-pass")
    users.set_role(engine, "admin", "fundraiser")
    at.run()
    assert at.session_state["user"].role == "fundraiser"
    users.remove_user(engine, "admin")
    at.run()
    assert not at.exception
    assert "user" not in at.session_state and len(at.text_input) == 2


def test_five_wrong_passwords_lock_the_account(app_for) -> None:
    at, engine = app_for()
    at.run()
    for _ in range(config.get("max_failed_logins")):
        _sign_in(at, "board", "not-the-password")
        assert "user" not in at.session_state
    assert "board" in users.locked_accounts(engine)
    _sign_in(at, "board", "demo-board-pass")  # the right password is refused while locked
    assert not at.exception
    assert "user" not in at.session_state
    assert any("locked" in e.value for e in at.error)
    assert users.REFUSED_LOCKED in _events(engine, "board")


def test_real_database_refuses_demo_key_and_demo_accounts(app_for, monkeypatch: pytest.MonkeyPatch) -> None:
    at, engine = app_for(demo=False)
    monkeypatch.delenv("DASHBOARD_COOKIE_KEY", raising=False)
    users.add_user(engine, "board", "Demo Board Member", "board@example.org", "demo-board-pass", "board")
    at.run()
    assert not at.exception
    message = at.error[0].value
    assert "DASHBOARD_COOKIE_KEY" in message and "[dashboard]" in message and "secrets.toml" in message
    assert "python -m dashboard users remove board" in message
    assert not at.text_input

    monkeypatch.setenv("DASHBOARD_COOKIE_KEY", "a-long-random-production-key-for-tests-0123456789")
    users.remove_user(engine, "board")
    at.run()
    assert not at.exception and not at.error
    assert len(at.text_input) == 2


def test_an_unknown_username_answers_like_an_account(app_for) -> None:
    at, _ = app_for()
    at.run()
    answers: dict[str, list[str]] = {}
    for username in ("board", "no-such-user"):
        answers[username] = []
        for _ in range(config.get("max_failed_logins") + 1):
            _sign_in(at, username, "not-the-password")
            assert not at.exception and "user" not in at.session_state
            answers[username].append(re.sub(r"\d\d:\d\d", "HH:MM", at.error[0].value))
    assert answers["board"] == answers["no-such-user"]
    assert "locked" in answers["no-such-user"][-1] and "locked" not in answers["no-such-user"][0]


def _b64(part: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def _bad_tokens() -> dict[str, str]:
    """Cookies a browser might send that are not a current cookie of ours, each by what is wrong with it."""
    key = str(config.get("cookie_key"))
    future = time.time() + 3600
    claims = {"username": "board", "exp_date": future, "iat": time.time()}
    return {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "HS512 with our key": jwt.encode(claims, key, algorithm="HS512"),
        "RS256 header": f"{_b64({'alg': 'RS256', 'typ': 'JWT'})}.{_b64(claims)}.c2lnbmF0dXJl",
        "expired exp": jwt.encode({**claims, "exp": time.time() - 60}, key, algorithm="HS256"),
        "iat not a number": jwt.encode({**claims, "iat": "soon"}, key, algorithm="HS256"),
        "no exp_date": jwt.encode({"username": "board", "iat": time.time()}, key, algorithm="HS256"),
        "exp_date not a number": jwt.encode({**claims, "exp_date": "later"}, key, algorithm="HS256"),
        "username not text": jwt.encode({**claims, "username": ["board"]}, key, algorithm="HS256"),
        "another key": jwt.encode(claims, "not-our-key-" * 4, algorithm="HS256"),
        "not a token": "garbage",
    }


@pytest.fixture
def browser_cookie(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], list[str]]:
    """browser_cookie(token): the app's runs see it as the sign-in cookie; returns the list of deletions asked."""
    deleted: list[str] = []

    def send(token: str) -> list[str]:
        monkeypatch.setattr(ContextProxy, "cookies", property(lambda self: {auth.COOKIE_NAME: token}))
        monkeypatch.setattr(CookieModel, "delete_cookie", lambda self: deleted.append(self.cookie_name))
        return deleted

    return send


def test_our_current_cookie_signs_in(app_for, browser_cookie) -> None:
    at, _ = app_for()
    claims = {"username": "board", "exp_date": time.time() + 3600, "iat": time.time()}
    deleted = browser_cookie(jwt.encode(claims, str(config.get("cookie_key")), algorithm="HS256"))
    at.run()
    assert not at.exception
    assert at.session_state["user"].username == "board" and not deleted


@pytest.mark.parametrize("problem", list(_bad_tokens()))
def test_a_bad_cookie_shows_the_sign_in_form_and_is_deleted(app_for, browser_cookie, problem: str) -> None:
    at, _ = app_for()
    deleted = browser_cookie(_bad_tokens()[problem])
    at.run()
    assert not at.exception
    assert "user" not in at.session_state
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert deleted == [auth.COOKIE_NAME]


REFUSING = "postgresql://postgres@127.0.0.1:1/nothing_listens_here"


def _unreachable_shown(at: AppTest) -> bool:
    return not at.exception and [e.value for e in at.error][:1] == [auth.UNREACHABLE]


def test_sign_in_says_the_database_is_unreachable_and_recovers(app_for, monkeypatch: pytest.MonkeyPatch) -> None:
    at, engine = app_for()
    at.run()
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", REFUSING)
    at.run()
    assert _unreachable_shown(at)
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    _sign_in(at, "board", "demo-board-pass")
    assert _unreachable_shown(at) and "user" not in at.session_state
    assert [t.label for t in at.text_input] == ["Username", "Password"]

    monkeypatch.setenv("DASHBOARD_DATABASE_URL", str(engine.url))
    at.run()  # this script makes an engine per run: the form's callback holds the last one
    assert not at.exception and not at.error
    _sign_in(at, "board", "demo-board-pass")
    assert not at.exception and not at.error
    assert at.session_state["user"].username == "board"

    monkeypatch.setenv("DASHBOARD_DATABASE_URL", REFUSING)  # a signed-in session: the line, then back where it was
    at.run()
    assert _unreachable_shown(at) and not any("Welcome" in m.value for m in at.markdown)
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", str(engine.url))
    at.run()
    assert not at.exception and any("Welcome Demo Board Member" in m.value for m in at.markdown)


def test_the_app_starts_with_the_database_unreachable_and_recovers(
    sqlite_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHBOARD_TESTING", "1")
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", REFUSING)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=60)
    at.run()
    assert _unreachable_shown(at)
    assert [t.label for t in at.text_input] == ["Username", "Password"]

    monkeypatch.setenv("DASHBOARD_DATABASE_URL", sqlite_engine.url.render_as_string(hide_password=False))
    created = users.ensure_demo_accounts(sqlite_engine)
    try:
        _sign_in(at, "board", "demo-board-pass")
        assert not at.exception
        assert at.session_state["user"].username == "board"
        assert not any(e.value == auth.UNREACHABLE for e in at.error)
    finally:
        # The shared test database is not demo data: demo accounts left in it make the app refuse to start for
        # every later test in this process (seen as the Overview's tests failing after this file).
        for username in created:
            users.remove_user(sqlite_engine, username)


@pytest.mark.parametrize(
    ("url", "headers", "secure"),
    [
        ("https://impact.example.org/", {}, True),
        ("HTTPS://impact.example.org/data", {}, True),
        ("http://localhost:8501/", {}, False),
        ("http://localhost:8501/", {"X-Forwarded-Proto": "https"}, False),  # the browser is on HTTP: it would drop it
        (None, {"X-Forwarded-Proto": "https"}, True),
        (None, {"x-forwarded-proto": "https, http"}, True),  # the first proxy is the one the browser reached
        (None, {"Forwarded": "for=192.0.2.60;proto=https;by=203.0.113.43"}, True),
        (None, {"X-Forwarded-Proto": "http"}, False),
        (None, {}, False),
    ],
)
def test_the_cookie_is_secure_exactly_when_the_page_is_on_https(
    url: str | None, headers: dict[str, str], secure: bool
) -> None:
    assert auth.cookie_is_secure(url, headers) is secure


@pytest.mark.parametrize(("url", "secure"), [("https://impact.example.org/", True), ("http://localhost:8501/", False)])
def test_signing_in_sets_the_cookie_secure_on_https_and_same_site_strict(
    app_for, monkeypatch: pytest.MonkeyPatch, url: str, secure: bool
) -> None:
    at, _ = app_for()
    written: list[tuple[str, str, dict]] = []
    monkeypatch.setattr(ContextProxy, "url", property(lambda self: url))
    monkeypatch.setattr(
        CookieManager, "set", lambda self, cookie, val, **options: written.append((cookie, val, options))
    )
    at.run()
    assert not written  # a visitor gets no cookie
    _sign_in(at, "board", "demo-board-pass")
    assert not at.exception and at.session_state["user"].username == "board"
    [(name, token, options)] = written
    assert name == auth.COOKIE_NAME and options["secure"] is secure and options["same_site"] == "strict"
    claims = jwt.decode(token, str(config.get("cookie_key")), algorithms=["HS256"])
    assert claims["username"] == "board" and claims["exp_date"] > time.time() and "iat" in claims


def test_a_session_idle_longer_than_the_timeout_is_signed_out_at_its_next_rerun(app_for, monkeypatch) -> None:
    monkeypatch.setenv("DASHBOARD_IDLE_TIMEOUT_MINUTES", "5")
    at, engine = app_for()
    at.run()
    _sign_in(at, "board", "demo-board-pass")
    at.session_state["_auth_last_seen"] = datetime.now(UTC) - timedelta(minutes=4)
    at.run()  # the control: four minutes idle is within the timeout
    assert "user" in at.session_state and any("Welcome" in m.value for m in at.markdown)

    at.session_state["_auth_last_seen"] = datetime.now(UTC) - timedelta(minutes=6)
    at.run()
    assert not at.exception
    assert "user" not in at.session_state and len(at.text_input) == 2
    assert any("signed out after 5 minutes without activity" in e.value for e in at.error)
    assert _events(engine, "board")[0] == users.IDLE_SIGNED_OUT


def test_with_password_sign_in_off_there_is_no_form_and_a_password_session_ends(app_for, monkeypatch) -> None:
    at, _ = app_for()
    at.run()
    _sign_in(at, "board", "demo-board-pass")
    assert "user" in at.session_state  # the control: with the setting on, the password signs in

    monkeypatch.setenv("DASHBOARD_PASSWORD_SIGN_IN", "false")
    at.run()  # the session that signed in by password before the setting changed
    assert not at.exception
    assert "user" not in at.session_state and not at.text_input
    assert any("No way to sign in is configured" in e.value for e in at.error)  # no [auth] in this test

    monkeypatch.setenv("DASHBOARD_PASSWORD_SIGN_IN", "maybe")
    with pytest.raises(config.ConfigError, match="true or false"):
        config.get("password_sign_in")


def test_an_identity_maps_to_the_one_account_with_its_verified_email(app_for) -> None:
    _, engine = app_for()
    users.add_user(engine, "mixed-case", "Mixed Case", "Person@Network.example", "a long test password", "board")
    user, why = users.account_for_identity(engine, "person@network.EXAMPLE", verified=True)
    assert user is not None and user.username == "mixed-case" and why == ""
    assert users.account_for_identity(engine, "person@network.example", verified=False)[0] is None
    assert users.account_for_identity(engine, "", verified=True)[0] is None
    users.add_user(engine, "same-email", "Same Email", "person@network.example", "a long test password", "admin")
    user, why = users.account_for_identity(engine, "person@network.example", verified=True)
    assert user is None and "2 accounts share" in why  # which one would be a guess
