"""Single sign-on in Chromium, through a local OpenID Connect provider (tests/oidc_provider.py) and st.login: the
provider says who signed in, the database decides role and scope; a token with a flaw and an email no account has
are refused; the password form stays beside it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from dashboard.data import db, users
from tests.conftest import fill
from tests.e2e.conftest import ARTIFACTS, _free_port, start_app, submit_sign_in, wait_ready
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, FLAWS, Provider

TIMEOUT = 90_000
BOARD = ("sso-board", "Board.Member@Network.example")  # the provider sends it in lower case
LEAD = ("sso-lead", "lead@network.example")
PASSWORD_USER = ("sso-password", "a long password for the form")


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with Provider() as running:
        yield running


@pytest.fixture(scope="module")
def sso_app(provider: Provider, small_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """(app URL, its engine, its log file): one app with the local provider configured under [auth]."""
    folder = tmp_path_factory.mktemp("sso")
    engine = fill(db.create_engine(f"sqlite:///{folder / 'sso.sqlite3'}"), small_csv)
    lead_affiliate = pd.read_csv(small_csv / "affiliates.csv").sort_values("affiliate_id").iloc[0]["affiliate_id"]
    users.add_user(engine, BOARD[0], "Board Member", BOARD[1], "an unused long password", "board")
    users.add_user(engine, LEAD[0], "Affiliate Lead", LEAD[1], "an unused long password", "affiliate_lead",
                   [lead_affiliate])  # fmt: skip
    users.add_user(engine, PASSWORD_USER[0], "Password User", "pw@network.example", PASSWORD_USER[1], "fundraiser")
    port = _free_port()
    secrets = folder / "secrets.toml"
    secrets.write_text(f"""\
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "a-test-cookie-secret-for-streamlit-identity"

[auth.local]
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
server_metadata_url = "{provider.issuer}/.well-known/openid-configuration"
""")
    settings = {"DASHBOARD_DATABASE_URL": str(engine.url), "DASHBOARD_COOKIE_KEY": "a-test-cookie-key-for-the-sso-app",
                "DASHBOARD_TESTING": "1"}  # fmt: skip
    proc, url = start_app(folder, folder, settings, port=port, arguments=["--secrets.files", str(secrets)])
    yield url, engine, folder / f"streamlit-{port}.log"
    proc.terminate()
    proc.wait(timeout=20)
    engine.dispose()


def _page(browser) -> Page:
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.set_default_timeout(TIMEOUT)
    return page


def _through_provider(page: Page, url: str, provider: Provider, email: str, verified: bool = True) -> None:
    """Open the app and sign in with the provider, which vouches for `email`; back at the app, settled."""
    provider.next_identity = {"email": email.lower(), "email_verified": verified}
    page.goto(url)
    wait_ready(page, TIMEOUT)
    issued = provider.tokens_issued
    page.get_by_role("button", name="Sign in with Local").click()
    deadline = time.monotonic() + 60
    while provider.tokens_issued == issued:  # the app's server has exchanged the code for the token
        assert time.monotonic() < deadline, "the app never exchanged a code for a token"
        page.wait_for_timeout(100)
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/(\?.*)?$"), timeout=TIMEOUT)  # home, after the callback
    wait_ready(page, TIMEOUT)


def _events(engine: sa.Engine, username: str) -> list[str]:
    return users.recent_audit(engine).query("username == @username")["event"].tolist()


def test_a_board_member_signs_in_through_the_provider_and_sees_the_whole_network(sso_app, provider, browser) -> None:
    url, engine, _ = sso_app
    page = _page(browser)
    _through_provider(page, url, provider, BOARD[1])
    expect(page.get_by_role("heading", name="Impact overview").first).to_be_visible(timeout=TIMEOUT)
    assert page.locator('[data-testid="stCaptionContainer"]').filter(has_text="Your view:").count() == 0
    menu = [m.strip().splitlines()[-1] for m in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]
    assert "Data" not in menu and "Outcomes" in menu  # the board's pages, from the account's role
    assert users.SSO_SIGNED_IN in _events(engine, BOARD[0])

    page.reload()  # Streamlit's identity cookie carries the sign-in to a new session
    wait_ready(page, TIMEOUT)
    expect(page.get_by_role("heading", name="Impact overview").first).to_be_visible(timeout=TIMEOUT)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in with Local")).to_be_visible(timeout=TIMEOUT)
    page.reload()
    wait_ready(page, TIMEOUT)
    expect(page.get_by_role("button", name="Sign in with Local")).to_be_visible(timeout=TIMEOUT)
    assert page.get_by_role("heading", name="Impact overview").count() == 0
    page.context.close()


def test_a_lead_signs_in_through_the_provider_within_its_own_affiliate_until_its_account_is_removed(
    sso_app, provider, browser, small_csv
) -> None:
    url, engine, _ = sso_app
    affiliate = pd.read_csv(small_csv / "affiliates.csv").sort_values("affiliate_id").iloc[0]
    page = _page(browser)
    _through_provider(page, url, provider, LEAD[1])
    view = page.locator('[data-testid="stCaptionContainer"]').filter(has_text="Your view:").first
    expect(view).to_contain_text(f"Your view: {affiliate['name']}, your affiliate", timeout=TIMEOUT)

    # The account is turned off here (removed) while the provider still vouches for the person: at the session's
    # next rerun it is signed out, and signing in again through the provider is refused.
    users.remove_user(engine, LEAD[0])
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Outcomes").first.click()
    expect(page.get_by_role("button", name="Sign in with Local")).to_be_visible(timeout=TIMEOUT)
    _through_provider(page, url, provider, LEAD[1])
    alert = page.locator('[data-testid="stAlert"]').filter(has_text="Single sign-on cannot let you in").first
    assert "no account of this dashboard has the email" in alert.inner_text(timeout=TIMEOUT).replace("\u2060", "")
    page.context.close()


@pytest.mark.parametrize(
    ("email", "verified", "why"),
    [("stranger@elsewhere.example", True, "no account of this dashboard has the email stranger@elsewhere.example"),
     (LEAD[1], False, f"does not vouch that {LEAD[1]} is verified")],
    ids=["unknown-email", "unverified-email"],
)  # fmt: skip
def test_an_identity_no_account_may_use_is_refused_and_audited(
    sso_app, provider, browser, email: str, verified: bool, why: str
) -> None:
    url, engine, _ = sso_app
    page = _page(browser)
    _through_provider(page, url, provider, email, verified)
    alert = page.locator('[data-testid="stAlert"]').filter(has_text="Single sign-on cannot let you in").first
    assert why in alert.inner_text(timeout=TIMEOUT).replace("\u2060", "")  # markdown_text's joiners stop autolinks
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"sso-refused-{'verified' if verified else 'unverified'}.png"))
    assert page.get_by_role("heading", name="Impact overview").count() == 0
    assert page.locator('[data-testid="stSidebarNav"] a').count() == 0
    assert users.SSO_REFUSED in _events(engine, email)
    page.get_by_role("button", name="Sign out and use another account").click()
    expect(page.get_by_role("button", name="Sign in with Local")).to_be_visible(timeout=TIMEOUT)
    page.context.close()


@pytest.mark.parametrize("flaw", FLAWS)
def test_a_flawed_id_token_is_refused(sso_app, provider, browser, flaw: str) -> None:
    url, _, log = sso_app
    issued, logged = provider.tokens_issued, log.read_text().count("OAuth token exchange failed")
    page = _page(browser)
    provider.flaw = flaw
    try:
        _through_provider(page, url, provider, BOARD[1])  # an account that signs in with a sound token
    finally:
        provider.flaw = None
    expect(page.get_by_role("button", name="Sign in with Local")).to_be_visible(timeout=TIMEOUT)
    assert page.get_by_role("heading", name="Impact overview").count() == 0
    assert provider.tokens_issued == issued + 1  # the provider answered: the refusal was the token's check
    assert log.read_text().count("OAuth token exchange failed") == logged + 1

    _through_provider(page, url, provider, BOARD[1])  # the control: the same person, a sound token
    expect(page.get_by_role("heading", name="Impact overview").first).to_be_visible(timeout=TIMEOUT)
    page.context.close()


def test_the_password_form_still_signs_in_beside_single_sign_on(sso_app, browser) -> None:
    url, _, _ = sso_app
    page = _page(browser)
    page.goto(url)
    expect(page.get_by_role("button", name="Sign in with Local")).to_be_visible(timeout=TIMEOUT)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sso-sign-in.png"))
    submit_sign_in(page, *PASSWORD_USER)
    expect(page.get_by_role("heading", name="Impact overview").first).to_be_visible(timeout=TIMEOUT)
    page.context.close()
