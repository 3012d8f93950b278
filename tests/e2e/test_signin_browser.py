"""Sign-in in headless Chromium: each demo account signs in, survives a refresh (cookie), and signs out."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

import jwt
import pytest
from playwright.sync_api import expect

from dashboard import config
from dashboard.data import users
from tests.e2e.conftest import start_app, submit_sign_in, wait_ready

COOKIE = "impact_dashboard"


def _form(page):
    return page.get_by_role("textbox", name="Username")


def _overview(page):
    return page.get_by_role("heading", name="Impact overview")


@pytest.mark.parametrize("account", users.DEMO_ACCOUNTS, ids=lambda a: a.username)
def test_demo_account_signs_in_survives_refresh_and_signs_out(base_url: str, browser, account) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base_url)
    wait_ready(page)
    expect(_form(page)).to_be_visible(timeout=120_000)
    assert page.locator('[data-testid="stMetricValue"]').count() == 0  # nothing but the form
    assert _overview(page).count() == 0

    submit_sign_in(page, account.username, account.password)
    expect(_overview(page).first).to_be_visible(timeout=120_000)
    wait_ready(page)
    expect(_form(page)).to_have_count(0)
    page.wait_for_function(f"() => document.cookie.includes('{COOKIE}=')", timeout=30_000)

    page.reload()
    wait_ready(page)
    expect(_overview(page).first).to_be_visible(timeout=120_000)
    expect(_form(page)).to_have_count(0)
    expect(page.locator('[data-testid="stMetricValue"]').first).to_be_visible(timeout=60_000)

    page.get_by_role("button", name="Sign out").click()
    expect(_form(page).first).to_be_visible(timeout=60_000)
    wait_ready(page)
    expect(_overview(page)).to_have_count(0)
    page.wait_for_function(f"() => !document.cookie.includes('{COOKIE}=')", timeout=30_000)
    page.reload()
    wait_ready(page)
    expect(_form(page)).to_be_visible(timeout=60_000)
    assert page.locator('[data-testid="exception"], [data-testid="stException"]').count() == 0
    assert not errors, errors
    context.close()


@pytest.mark.parametrize("path", ["/data", "/roi", "/outcomes"])
def test_a_visitor_cannot_open_a_page_by_its_url(base_url: str, browser, path: str) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(base_url + path)
    wait_ready(page)
    expect(_form(page)).to_be_visible(timeout=60_000)
    headings = page.locator("h1, h2, h3").all_inner_texts()
    assert "Sign in" in headings
    assert not {"Data", "Upload", "Return on investment", "Outcomes"} & set(headings), headings
    assert page.locator('[data-testid="stSidebarNav"] a').count() == 0
    page.close()


def _cookie(base_url: str, value: str) -> dict:
    host = base_url.split("//", 1)[1].split(":")[0]
    return {"name": COOKIE, "value": value, "domain": host, "path": "/"}


def _token(username: str, key: str, expires_in: timedelta, issued: bool = True) -> str:
    """A cookie value shaped like ours: an HS256 JWT with username, exp_date and (unless told) iat."""
    claims = {"username": username, "exp_date": (datetime.now() + expires_in).timestamp()}
    if issued:
        claims["iat"] = time.time()
    return jwt.encode(claims, key, algorithm="HS256")


def _opens_with(browser, base_url: str, cookie_value: str) -> str:
    """'overview' or 'form': what a new browser holding only this cookie sees."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_cookies([_cookie(base_url, cookie_value)])
    page = context.new_page()
    page.goto(base_url)
    wait_ready(page)
    page.locator("h1, h2, h3").filter(has_text=re.compile("Impact overview|Sign in")).first.wait_for(timeout=60_000)
    seen = "overview" if _overview(page).count() else "form"
    context.close()
    return seen


def test_a_cookie_signed_with_the_key_signs_in_and_forged_or_expired_ones_do_not(base_url: str, browser) -> None:
    key = str(config.DEMO_COOKIE_KEY)
    # The control. Issued now (the cookie lifetime is a day): a sign-out earlier in the run ended older ones.
    assert _opens_with(browser, base_url, _token("board", key, timedelta(days=1))) == "overview"
    assert _opens_with(browser, base_url, _token("board", "not-the-key" * 4, timedelta(days=1))) == "form"
    assert _opens_with(browser, base_url, _token("board", key, timedelta(seconds=-5))) == "form"
    assert _opens_with(browser, base_url, "not.a.jwt") == "form"
    # Without an issue time a sign-out could not be told from before or after: refused.
    assert _opens_with(browser, base_url, _token("board", key, timedelta(days=1), issued=False)) == "form"
    assert _opens_with(browser, base_url, _token("nobody-here", key, timedelta(days=1))) == "form"


def test_a_copied_cookie_stops_working_once_its_owner_signs_out(base_url: str, browser) -> None:
    account = next(a for a in users.DEMO_ACCOUNTS if a.role == "fundraiser")
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(base_url)
    submit_sign_in(page, account.username, account.password)
    page.wait_for_function(f"() => document.cookie.includes('{COOKIE}=')", timeout=30_000)
    copied = next(c["value"] for c in context.cookies() if c["name"] == COOKIE)
    time.sleep(1.1)  # a sign-out in the same second as the sign-in would still be told apart, but keep it clear
    assert _opens_with(browser, base_url, copied) == "overview"  # the copy works while its owner is signed in

    page.get_by_role("button", name="Sign out").click()
    expect(_form(page).first).to_be_visible(timeout=60_000)
    assert _opens_with(browser, base_url, copied) == "form"
    context.close()


@pytest.mark.parametrize("path", ["/outcomes?state=NC", "/admin", "/data"])
def test_a_page_url_is_the_first_request_a_fresh_server_gets_and_still_shows_only_the_form(
    server: str, e2e_data_dir, tmp_path, browser, path: str
) -> None:
    """Streamlit runs scripts in a pages/ folder directly until app.py has declared navigation once, which on a
    fresh server would skip sign-in; the page scripts live in app_pages/ so this cannot happen."""
    proc, url = start_app(e2e_data_dir, tmp_path)  # the database exists: `server` built it
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url + path)
        wait_ready(page)
        expect(_form(page)).to_be_visible(timeout=60_000)
        assert page.locator('[data-testid="stSidebarNav"] a').count() == 0
        assert page.locator('[data-testid="stMetricValue"], [data-testid="stPlotlyChart"]').count() == 0
        headings = set(page.locator("h1, h2, h3").all_inner_texts())
        assert not {"Outcomes", "Accounts and audit", "Data"} & headings, headings
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_page_opened_by_its_url_runs_once(server: str, e2e_data_dir, tmp_path, browser) -> None:
    """The sign-in cookie is read from the request: no cookie component reports it a moment later and runs the page
    again (each page opened by URL used to start a second run while its first was still going). Counted on the
    server, in Streamlit's debug log, since the first run never finishes to show it in the browser."""
    proc, url = start_app(e2e_data_dir, tmp_path, arguments=["--logger.level", "debug"])
    log = next(tmp_path.glob("streamlit-*.log"))
    try:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_cookies([_cookie(url, _token("board", str(config.DEMO_COOKIE_KEY), timedelta(days=1)))])
        page = context.new_page()
        page.goto(f"{url}/outcomes")
        wait_ready(page)
        expect(page.get_by_role("heading", name="Outcomes", exact=True).first).to_be_visible(timeout=60_000)
        page.wait_for_timeout(3_000)  # the component's report came about a second after the page settled
        wait_ready(page)
        assert log.read_text().count("Beginning script thread") == 1
        context.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
