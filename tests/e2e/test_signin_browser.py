"""Sign-in in headless Chromium: each demo account signs in, survives a refresh (cookie), and signs out."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from dashboard import users
from tests.e2e.conftest import submit_sign_in, wait_ready

COOKIE = "impact_dashboard"


@pytest.fixture(scope="session")
def base_url(request: pytest.FixtureRequest) -> str:
    """The app under test; DASHBOARD_E2E_URL points at an already running one instead of starting app.py."""
    return os.environ.get("DASHBOARD_E2E_URL") or request.getfixturevalue("server")


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
