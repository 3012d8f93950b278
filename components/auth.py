"""Sign-in: our own form checked against the database (lockout, audit), the authenticator's signed cookie."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import bcrypt
import extra_streamlit_components as stx
import jwt
import sqlalchemy as sa
import streamlit as st
import streamlit_authenticator as stauth
from extra_streamlit_components.CookieManager import _component_func as _cookie_component
from streamlit_authenticator.models import cookie_model

from components import single_sign_on
from dashboard import access, config
from dashboard.data import db, users

COOKIE_NAME = "impact_dashboard"
SIGNED_OUT = "logout"
SIGNED_OUT_GONE = "logout_account_gone"
SESSION_ENDED = "session_refused"
_SIGNED_IN_AT = "_auth_signed_in_at"
_AUTH = "_auth_authenticator"
_SET_COOKIE = "_auth_set_cookie"
_DELETE_COOKIE = "_auth_delete_cookie"
_FORM_MESSAGE = "_auth_form_message"
_VIA_SSO = "_auth_via_sso"
_SSO_LOGOUT = "_auth_sso_logout"
_SSO_REFUSAL_AUDITED = "_auth_sso_refusal_audited"
_LAST_SEEN = "_auth_last_seen"
UNREACHABLE = "The database is unreachable right now; signing in works again as soon as it answers."
# What a database that is down, refusing or not answering raises (psycopg and sqlite3 alike).
DATABASE_DOWN: tuple[type[Exception], ...] = (sa.exc.OperationalError, sa.exc.InterfaceError, db.DatabaseUnreachable)


@st.cache_resource(show_spinner=False)
def _demo_accounts_ready(_engine: sa.Engine, url: str) -> list[str]:
    """Create the demo accounts once per process and database."""
    return users.ensure_demo_accounts(_engine)


@st.cache_data(show_spinner=False, max_entries=64)
def _is_demo_password(password_hash: str, password: str) -> bool:
    """Whether a stored hash is the published demo password (cached: bcrypt is slow on purpose)."""
    try:
        return bcrypt.checkpw(password.encode("utf-8"), password_hash.encode("ascii"))
    except ValueError:
        return False


def _hashes(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.users.c.username, db.users.c.password_hash)).all()
    return {r.username: r.password_hash for r in rows}


def _refuse_demo_settings(engine: sa.Engine, hashes: dict[str, str]) -> None:
    """Stop with what to set when a real database runs with the demo cookie key or demo passwords."""
    problems = []
    if config.get("cookie_key") == config.DEMO_COOKIE_KEY:
        problems.append(
            "the sign-in cookie key is the published demo key: set DASHBOARD_COOKIE_KEY, or cookie_key under "
            "[dashboard] in .streamlit/secrets.toml, to a long random string"
        )
    demo = [
        a.username
        for a in users.DEMO_ACCOUNTS
        if a.username in hashes and _is_demo_password(hashes[a.username], a.password)
    ]
    if demo:
        problems.append(
            "demo accounts with their published passwords exist: remove them with "
            + "; ".join(f"`python -m dashboard users remove {u}`" for u in demo)
        )
    if problems:
        st.error("The dashboard will not start on this database: " + ". ".join(problems) + ".")
        st.stop()


class _RequestCookies(stx.CookieManager):
    """The authenticator's cookie manager without its "getAll" component.

    streamlit-authenticator 0.4.2 reads the sign-in cookie from the request (st.context.cookies) already, but the
    manager it makes still draws a component that reports every cookie from the browser once it is mounted, and
    that report ran every new session's script a second time (each page opened by URL). Here the cookies the
    browser sent with the request stand in for that report; writing and deleting a cookie still go through the
    component, as before.
    """

    def __init__(self, key: str = "init") -> None:  # the library's signature; no component, so no key
        self.cookie_manager = _cookie_component
        self.cookies = dict(st.context.cookies)


# Only the authenticator's module sees the class above, not every user of extra-streamlit-components.
cookie_model.stx = type("_CookieComponents", (), {"CookieManager": _RequestCookies})


def _authenticator(hashes: dict[str, str], engine: sa.Engine) -> stauth.Authenticate:
    credentials = {
        "usernames": {
            u.username: {"name": u.name, "email": u.email, "password": hashes[u.username], "roles": [u.role]}
            for u in users.list_users(engine)
            if u.username in hashes
        }
    }
    extra = {"login_sleep_time": 0} if os.environ.get("DASHBOARD_TESTING") == "1" else {}
    return stauth.Authenticate(
        credentials,
        COOKIE_NAME,
        str(config.get("cookie_key")),
        float(config.get("cookie_expiry_days")),
        auto_hash=False,
        **extra,
    )


def _issued_at(token: dict) -> datetime | None:
    """When the cookie was issued, from the `iat` claim we add (None, hence refused, for a cookie without one)."""
    try:
        return datetime.fromtimestamp(float(token["iat"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def _stamp_issue_time(authenticator: stauth.Authenticate) -> None:
    """Make the authenticator's cookie carry when it was issued, so a sign-out can refuse every older one.

    streamlit-authenticator 0.4.2 signs only username and expiry; the expiry less the lifetime setting would
    shift whenever that setting changes.
    """
    model = authenticator.cookie_controller.cookie_model

    def encode() -> str:
        claims = {"username": st.session_state["username"], "exp_date": model.exp_date, "iat": time.time()}
        return jwt.encode(claims, model.cookie_key, algorithm="HS256")

    model._token_encode = encode


def cookie_is_secure(url: str | None, headers: Mapping[str, str]) -> bool:
    """Whether the browser reached the app over HTTPS, so the sign-in cookie can be marked Secure.

    The page's own URL (what the browser shows) decides when it is known; else a proxy's X-Forwarded-Proto or
    Forwarded header. A browser on plain HTTP drops a Secure cookie, so http://localhost must stay without.
    """
    if url:
        return url.lower().startswith("https://")
    lowered = {k.lower(): v for k, v in headers.items()}
    proto = lowered.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    forwarded = lowered.get("forwarded", "").split(",")[0].replace(" ", "").lower()
    return proto == "https" or "proto=https" in forwarded.split(";")


def _secure_cookie(authenticator: stauth.Authenticate) -> None:
    """Make the authenticator write its cookie Secure whenever the page is on HTTPS, and SameSite=Strict.

    streamlit-authenticator 0.4.2 calls the cookie manager's set() without `secure`, so the browser would send
    the cookie over plain HTTP too; the set_cookie below is the library's own, with those two options added.
    """
    model = authenticator.cookie_controller.cookie_model

    def set_cookie() -> None:
        if model.cookie_expiry_days == 0:
            return
        model.exp_date = model._set_exp_date()
        model.cookie_manager.set(model.cookie_name, model._token_encode(),
                                 expires_at=datetime.now() + timedelta(days=model.cookie_expiry_days),
                                 secure=cookie_is_secure(st.context.url, st.context.headers),
                                 same_site="strict")  # fmt: skip

    model.set_cookie = set_cookie


def _cookie_claims(cookies: stauth.controllers.CookieController) -> dict | None:
    """The sign-in cookie's claims when it is ours, current and names a user; else None, and a bad one is deleted."""
    if st.session_state.get("logout"):
        return None  # signed out in this session: the cookie is being deleted already
    present = COOKIE_NAME in st.context.cookies
    try:
        token = cookies.get_cookie()
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        # streamlit-authenticator 0.4.2 catches only a bad signature or an unreadable token: another algorithm
        # (alg=none, HS512, RS256), an expired `exp`, a bad `iat` or a missing `exp_date` would raise into the page.
        token = None
    if isinstance(token, dict) and isinstance(token.get("username"), str) and token["username"]:
        return token
    if present:
        cookies.delete_cookie()  # or the browser sends it on every run until it expires
    return None


def _set_signed_in(user: users.User) -> None:
    ss = st.session_state
    ss["user"] = user
    ss["scope"] = user.scope
    ss["username"] = user.username
    ss["name"] = user.name
    ss["email"] = user.email
    ss["roles"] = [user.role]
    ss["authentication_status"] = True
    ss["logout"] = None


def _clear_signed_in() -> None:
    ss = st.session_state
    for key in ("user", "scope", _SIGNED_IN_AT, _VIA_SSO, _LAST_SEEN):
        ss.pop(key, None)
    for key in ("name", "username", "authentication_status", "email", "roles"):
        ss[key] = None
    ss["logout"] = True  # the library then ignores a cookie the browser has not dropped yet


def _on_submit(engine: sa.Engine | None) -> None:
    """Form callback: runs before the script, so a good sign-in never renders the form again."""
    ss = st.session_state
    username = str(ss.get("_auth_username") or "").strip().lower()
    password = str(ss.get("_auth_password") or "")
    ss["_auth_password"] = ""
    if not config.get("password_sign_in"):  # the form is not drawn then; a stale one in an open tab is refused
        ss[_FORM_MESSAGE] = "Password sign-in is turned off here; use single sign-on."
        return
    if not username or not password:
        ss[_FORM_MESSAGE] = "Enter your username and password."
        return
    try:
        if engine is None:  # the form was drawn while the database was down at start: try it again now
            from components import data

            engine = data.engine()
        user = users.verify_login(engine, username, password)
        until = users.lock_ends(engine, username) if user is None else None
    except DATABASE_DOWN:
        ss[_FORM_MESSAGE] = UNREACHABLE
        return
    if user is None:
        if until is not None:
            ss[_FORM_MESSAGE] = (
                f"This account is locked after too many failed sign-ins; try again after {until:%H:%M} UTC."
            )
        else:
            ss[_FORM_MESSAGE] = "Wrong username or password."
        return
    ss.pop(_FORM_MESSAGE, None)
    _set_signed_in(user)
    ss[_SIGNED_IN_AT] = datetime.now(UTC)
    ss[_SET_COOKIE] = True


def _sign_in_form(engine: sa.Engine | None) -> None:
    """Single sign-on buttons for each configured provider, and the password form unless it is turned off."""
    providers = single_sign_on.providers()
    password = bool(config.get("password_sign_in"))
    if providers:
        st.subheader("Sign in")
        single_sign_on.buttons()
    if password:
        with st.form("signin"):
            st.subheader("Sign in with a password" if providers else "Sign in")
            st.text_input("Username", key="_auth_username", autocomplete="username")
            st.text_input("Password", type="password", key="_auth_password", autocomplete="current-password")
            st.form_submit_button("Sign in", on_click=_on_submit, args=(engine,))
    elif not providers:
        st.error("No way to sign in is configured: password sign-in is turned off (password_sign_in) and no "
                 "single sign-on provider is set under [auth] in .streamlit/secrets.toml.")  # fmt: skip
    message = st.session_state.pop(_FORM_MESSAGE, None)
    if message:
        st.error(message)


def signed_in_user(engine: sa.Engine) -> users.User | None:
    """The signed-in account (re-read from the database on every run); otherwise shows the form and stops."""
    try:
        return _signed_in_user(engine)
    except DATABASE_DOWN:
        database_unreachable(engine)


def database_unreachable(engine: sa.Engine | None = None) -> None:
    """Say in one line that the database is unreachable, keep the sign-in form up for a visitor, and stop."""
    st.error(UNREACHABLE)
    _signed_out_navigation()
    if not st.session_state.get("authentication_status"):  # a signed-in session simply carries on once it is back
        _sign_in_form(engine)
    st.stop()


def _signed_out_navigation() -> None:
    """Declare the signed-out pages: without it Streamlit would discover pages/ and serve them to anyone."""
    # Every page's URL shows the form too and keeps its query, so a copied link opens its view after sign-in.
    st.navigation(
        [st.Page(_signed_out_page, title="Sign in", url_path="sign-in")]
        + [st.Page(_signed_out_page, title="Sign in", url_path=p.url_path) for p in access.PAGES if p.url_path],
        position="hidden",
    )


def _signed_in_user(engine: sa.Engine) -> users.User:
    """signed_in_user's work: the account, or the form drawn and the run stopped."""
    if db.is_demo(engine):
        _demo_accounts_ready(engine, engine.url.render_as_string(hide_password=True))
        hashes = _hashes(engine)
    else:
        hashes = _hashes(engine)
        _refuse_demo_settings(engine, hashes)
    authenticator = _authenticator(hashes, engine)  # renders the cookie manager once per run
    _stamp_issue_time(authenticator)
    _secure_cookie(authenticator)
    st.session_state[_AUTH] = authenticator
    st.session_state["_auth_engine"] = engine
    cookies = authenticator.cookie_controller
    ss = st.session_state

    if ss.pop(_SSO_LOGOUT, False):
        st.logout()  # drops Streamlit's identity cookie and leaves through the provider's sign-out, if it has one
        st.stop()
    if ss.pop(_DELETE_COOKIE, False):
        cookies.delete_cookie()
    if ss.pop(_SET_COOKIE, False) and ss.get("username"):
        cookies.set_cookie()  # no st.rerun after this: it would stop the cookie being written

    password_on = bool(config.get("password_sign_in"))
    username = ss.get("username") if ss.get("authentication_status") else None
    signed_in_at = ss.get(_SIGNED_IN_AT)
    via_sso = bool(ss.get(_VIA_SSO))
    if username and not via_sso and not password_on:
        username = None  # signed in by password before it was turned off
        cookies.delete_cookie()
        _clear_signed_in()
    if not username and password_on:
        token = _cookie_claims(cookies)
        if token is not None:
            username = token["username"]
            signed_in_at = _issued_at(token)
    if not username and (person := single_sign_on.identity()) is not None:
        user, why = users.account_for_identity(engine, person.email, person.verified)
        if user is None:
            if ss.get(_SSO_REFUSAL_AUDITED) != person.email:  # once per session, not on every rerun
                users.audit(engine, person.email or "(no email)", users.SSO_REFUSED, why)
                ss[_SSO_REFUSAL_AUDITED] = person.email
            _signed_out_navigation()
            single_sign_on.refused(f"Single sign-on cannot let you in: {why}. Ask an administrator if this is wrong.")
            st.stop()
        username, signed_in_at, via_sso = user.username, person.issued_at, True
    if username:
        user = users.get_user(engine, username)
        idle = timedelta(minutes=float(config.get("idle_timeout_minutes")))
        now = datetime.now(UTC)
        last_seen = ss.get(_LAST_SEEN)
        if user is None:  # deleted since signing in: out at the next rerun
            users.audit(engine, username, SIGNED_OUT_GONE, "account no longer exists")
            _end_session(cookies, via_sso)
        elif signed_in_at is None or not user.accepts_session(signed_in_at):
            # Signed out or password reset since this session (or the cookie it came with) began.
            users.audit(engine, username, SESSION_ENDED, "sign-in older than the account's last sign-out or reset")
            _end_session(cookies, via_sso)
        elif idle > timedelta(0) and last_seen is not None and now - last_seen > idle:
            minutes = config.get("idle_timeout_minutes")
            users.audit(engine, username, users.IDLE_SIGNED_OUT, f"after {minutes} minutes without activity")
            _end_session(cookies, via_sso)
            st.session_state[_FORM_MESSAGE] = f"You were signed out after {minutes} minutes without activity."
        else:
            if via_sso and not ss.get(_VIA_SSO):
                users.audit(engine, username, users.SSO_SIGNED_IN, f"as {user.email}")
            _set_signed_in(user)  # picks up a changed role or affiliates
            ss[_SIGNED_IN_AT] = signed_in_at
            ss[_VIA_SSO] = via_sso
            ss[_LAST_SEEN] = now
            return user
    _signed_out_navigation()  # before stopping, or Streamlit would serve e.g. /data to a visitor
    _sign_in_form(engine)
    st.stop()


def _end_session(cookies: stauth.controllers.CookieController, via_sso: bool) -> None:
    """End this session's sign-in: the cookie it came with, or for single sign-on Streamlit's identity cookie."""
    cookies.delete_cookie()
    _clear_signed_in()
    if via_sso:
        st.session_state[_SSO_LOGOUT] = True
        st.rerun()  # the next run starts with st.logout


def _signed_out_page() -> None:
    """The only page a visitor who has not signed in can reach; the form is drawn by the entry script."""


def _on_sign_out() -> None:
    username = st.session_state.get("username")
    engine = st.session_state.get("_auth_engine")
    if username and engine is not None:
        try:
            users.end_sessions(engine, username)  # a copied cookie stops working too
            users.audit(engine, username, SIGNED_OUT)
        except DATABASE_DOWN:
            pass  # this session still signs out; the cookie is deleted below
    via_sso = bool(st.session_state.get(_VIA_SSO))
    _clear_signed_in()
    st.session_state[_DELETE_COOKIE] = True
    st.session_state[_SSO_LOGOUT] = via_sso


def logout_button() -> None:
    """A sidebar button that signs out (audited) and drops the cookie on the run it triggers."""
    if not st.session_state.get("authentication_status"):
        return
    st.sidebar.button("Sign out", key="_auth_sign_out", on_click=_on_sign_out)
