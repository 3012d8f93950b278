"""Two replicas of the app, two `streamlit run` processes on one PostgreSQL database, driven from the browser.

The processes share nothing but the database: no cache, no session, no cookie jar (each person below is a browser
context of their own). So whatever one replica's session sees of the other's work, it learned from the database.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from dashboard.data import migrate, users
from tests.conftest import POSTGRES_URL, fill, postgres_or_skip
from tests.e2e.conftest import start_app, submit_sign_in, wait_ready

TIMEOUT = 90_000
COOKIE_KEY = "a-replica-test-cookie-key-long-enough-for-hs256"
EXTRA_VOLUNTEERS = 500_000
ADMIN = ("replica-admin", "a long admin password")
LEAD = ("replica-lead", "a long lead password")
LOCKED = ("replica-locked", "a long password to lock")


@pytest.fixture(scope="module")
def shared_database(small_csv: Path) -> Iterator[sa.Engine]:
    """One PostgreSQL database holding the small network and this module's accounts (no demo passwords)."""
    postgres_or_skip()
    with migrate.throwaway_postgres(POSTGRES_URL, "dashboard_replicas") as engine:
        fill(engine, small_csv)
        lead_affiliate = _affiliates(small_csv).iloc[0]["affiliate_id"]
        for (username, password), role, affiliates in (
            (ADMIN, "admin", ()), (LEAD, "affiliate_lead", (lead_affiliate,)),
            (LOCKED, "board", ()),
        ):  # fmt: skip
            users.add_user(engine, username, username.title(), f"{username}@example.org", password, role, affiliates)
        yield engine


@pytest.fixture(scope="module")
def replicas(shared_database: sa.Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(URL of replica A, URL of replica B): two app processes configured alike, as a production host runs them."""
    settings = {
        "DASHBOARD_DATABASE_URL": shared_database.url.render_as_string(hide_password=False),
        "DASHBOARD_COOKIE_KEY": COOKIE_KEY,
        "DASHBOARD_TESTING": "1",
    }
    started = [
        start_app(tmp_path_factory.mktemp(f"replica_{name}"), tmp_path_factory.mktemp(f"replica_{name}_log"), settings)
        for name in "ab"
    ]
    yield started[0][1], started[1][1]
    for proc, _ in started:
        proc.terminate()
        proc.wait(timeout=20)


def _affiliates(small_csv: Path) -> pd.DataFrame:
    return pd.read_csv(small_csv / "affiliates.csv").sort_values("affiliate_id", ignore_index=True)


def _person(browser, base_url: str, account: tuple[str, str]) -> Page:
    """A browser context of its own (its own cookies), signed in to one replica; returns its page."""
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(base_url)
    submit_sign_in(page, *account)
    page.wait_for_function("() => document.cookie.includes('impact_dashboard=')", timeout=30_000)
    return page


def _go(page: Page, title: str) -> None:
    """Open a page through the sidebar menu: a rerun of the session already open, not a new one."""
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
    wait_ready(page, TIMEOUT)
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=TIMEOUT)


def _metric(page: Page, label: str) -> str:
    card = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)
    )
    return card.locator('[data-testid="stMetricValue"]').first.inner_text(timeout=TIMEOUT).strip()


def _card(total: float) -> str:
    """How the Overview writes a count of that size: three significant figures, K or M."""
    for unit, size in (("M", 1e6), ("K", 1e3)):
        if total >= size:
            return f"{float(f'{total / size:.3g}'):g}{unit}"
    return f"{total:,.0f}"


def _newest_volunteers(table: pd.DataFrame) -> float:
    return float(table.loc[table["school_year"] == table["school_year"].max(), "volunteers"].sum())


def _corrected_school_years(small_csv: Path, out: Path) -> tuple[Path, pd.DataFrame]:
    """school_years.csv with one school's volunteers in the newest year raised; returns the file and the table."""
    table = pd.read_csv(small_csv / "school_years.csv", dtype={"school_id": str, "school_year": str})
    first = table.index[table["school_year"] == table["school_year"].max()][0]
    table.loc[first, "volunteers"] += EXTRA_VOLUNTEERS
    path = out / "school_years.csv"
    table.to_csv(path, index=False)
    return path, table


def test_a_load_through_one_replica_shows_on_the_other_an_undo_there_shows_back_and_a_sign_out_ends_both(
    replicas: tuple[str, str], browser, small_csv: Path, tmp_path: Path
) -> None:
    a_url, b_url = replicas
    before = pd.read_csv(small_csv / "school_years.csv", dtype={"school_id": str, "school_year": str})
    path, after = _corrected_school_years(small_csv, tmp_path)
    assert _card(_newest_volunteers(after)) != _card(_newest_volunteers(before))  # the load must show on the card

    on_a, on_b = _person(browser, a_url, ADMIN), _person(browser, b_url, ADMIN)
    assert _metric(on_b, "Volunteers") == _card(_newest_volunteers(before))

    _go(on_a, "Data")
    on_a.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(path))
    on_a.get_by_role("button", name="Confirm load").click()
    expect(on_a.get_by_text("recorded. Every page now shows the new figures.")).to_be_visible(timeout=TIMEOUT)
    load_id = on_a.get_by_text("recorded. Every page now shows").inner_text().split()[1]

    _go(on_b, "Outcomes")
    _go(on_b, "Overview")  # B's session was open all along; this is its next rerun
    assert _metric(on_b, "Volunteers") == _card(_newest_volunteers(after))

    _go(on_b, "Data")  # the load made on A is B's to undo
    # Offered first, as the newest load, though made on A. It is the first load this database records, which the
    # Data page treats as an initial build: its id is typed, not a box ticked.
    on_b.get_by_role("textbox", name=f"Type {load_id} to undo it").fill(load_id)
    on_b.keyboard.press("Enter")
    wait_ready(on_b, TIMEOUT)
    on_b.get_by_role("button", name="Undo", exact=True).click()
    expect(on_b.get_by_text(f"Load {load_id} undone")).to_be_visible(timeout=TIMEOUT)

    _go(on_a, "Overview")  # A's next rerun
    assert _metric(on_a, "Volunteers") == _card(_newest_volunteers(before))

    # The same account signs out on A (say, on a laptop); its session on B (a phone) ends at B's next rerun.
    _go(on_b, "Outcomes")
    expect(on_b.get_by_role("textbox", name="Username")).to_have_count(0)  # the control: B is signed in
    on_a.get_by_role("button", name="Sign out").click()
    expect(on_a.get_by_role("textbox", name="Username").first).to_be_visible(timeout=TIMEOUT)
    # B's next rerun: a menu choice, unless a rerun B's page began by itself (late on a busy machine) came first and
    # took the menu away: that rerun found the session ended, as the next line checks.
    with contextlib.suppress(PlaywrightTimeout):
        on_b.locator('[data-testid="stSidebarNav"] a').filter(has_text="Overview").first.click(timeout=15_000)
    expect(on_b.get_by_role("textbox", name="Username").first).to_be_visible(timeout=TIMEOUT)
    on_b.reload()  # and its cookie was dropped with the session: a reload does not sign it back in
    wait_ready(on_b, TIMEOUT)
    expect(on_b.get_by_role("textbox", name="Username").first).to_be_visible(timeout=TIMEOUT)
    on_a.context.close()
    on_b.context.close()


def _attempt(browser, base_url: str, username: str, password: str) -> str:
    """Submit the sign-in form once, in a fresh session, and return the message it answers with."""
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.goto(base_url)
    wait_ready(page, TIMEOUT)
    time.sleep(0.5)  # the cookie component's first report reruns the page; a click during that rerun is dropped
    wait_ready(page, TIMEOUT)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    alert = (
        page.locator('[data-testid="stAlert"]')
        .filter(has_text="password")
        .or_(page.locator('[data-testid="stAlert"]').filter(has_text="locked"))
    )
    text = alert.first.inner_text(timeout=TIMEOUT)
    page.context.close()
    return text


def test_five_failures_spread_over_both_replicas_lock_the_account_on_both(replicas: tuple[str, str], browser) -> None:
    a_url, b_url = replicas
    username, password = LOCKED
    answers = [_attempt(browser, url, username, "wrong password") for url in (a_url, b_url, a_url, b_url)]
    assert answers == ["Wrong username or password."] * 4  # four, and not yet locked
    fifth = _attempt(browser, b_url, username, "wrong password")
    assert "locked" in fifth
    assert "locked" in _attempt(browser, a_url, username, password)  # the right password, refused on the other one


def test_a_lead_sees_only_its_own_affiliate_on_either_replica(
    replicas: tuple[str, str], browser, small_csv: Path
) -> None:
    affiliates = _affiliates(small_csv)
    own, other = affiliates.iloc[0], affiliates.iloc[1]
    schools = pd.read_csv(small_csv / "schools.csv", dtype={"school_id": str})
    years = pd.read_csv(small_csv / "school_years.csv", dtype={"school_id": str, "school_year": str})
    newest = years[years["school_year"] == years["school_year"].max()].merge(schools, on="school_id")
    own_schools = newest.loc[newest["affiliate_id"] == own["affiliate_id"], "school_id"].nunique()
    assert own_schools != newest["school_id"].nunique()
    for url in replicas:
        page = _person(browser, url, LEAD)
        view = page.locator('[data-testid="stCaptionContainer"]').filter(has_text="Your view:").first
        expect(view).to_contain_text(f"Your view: {own['name']}, your affiliate", timeout=TIMEOUT)
        assert _metric(page, "Schools") == _card(own_schools)  # its own schools, not the network's

        page.goto(f"{url}/profile?affiliate={other['affiliate_id']}")  # another affiliate's profile, by its URL
        wait_ready(page, TIMEOUT)
        expect(page.get_by_role("heading", name=own["name"]).first).to_be_visible(timeout=TIMEOUT)
        assert page.get_by_role("heading", name=other["name"]).count() == 0
        assert other["name"] not in page.locator('[data-testid="stMain"]').inner_text()
        page.context.close()
