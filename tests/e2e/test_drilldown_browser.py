"""Drill-down in headless Chromium: a state tile on the Overview opens Outcomes for that state; bars drill and the
breadcrumb climbs back. Clicks go to the pixel of the plotly point, as a user's would."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Page, expect

from dashboard.data import geo
from tests.e2e.conftest import ARTIFACTS, sign_in, wait_ready

TIMEOUT = 60_000
VIEWPORT = {"width": 1440, "height": 900}

# Page position of the tile (a scatter point) whose text is `code`, in the trace that carries customdata.
TILE_XY = """(el, code) => {
    const gd = el.querySelector('.js-plotly-plot');
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const trace = gd.data.find(t => t.customdata && t.text && t.text.includes(code));
    if (!trace) return null;
    const i = trace.text.indexOf(code);
    const box = gd.getBoundingClientRect();
    return [box.left + xa._offset + xa.l2p(trace.x[i]), box.top + ya._offset + ya.l2p(trace.y[i])];
}"""

# Places on the bar chart's category axis, and the page position of the taller visible bar of place `i`.
BAR_PLACES = "el => Array.from(el.querySelector('.js-plotly-plot').data[0].x)"
BAR_XY = """(el, i) => {
    const gd = el.querySelector('.js-plotly-plot');
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const box = gd.getBoundingClientRect();
    const places = gd.calcdata.filter(trace => trace[0].trace.meta !== 'benchmark');  // benchmarks are not drilled
    const cd = places.map(trace => trace.find(p => p.p === i)).filter(p => p && Number.isFinite(p.s) && p.s > 0);
    if (!cd.length) return null;
    const p = cd.reduce((a, b) => (b.s > a.s ? b : a));
    const x = xa.l2p(p.x) + xa._offset;  // the centre of this bar (grouped bars are offset from the category)
    const y = ya.l2p((Math.max(ya.range[0], 0) + p.s) / 2) + ya._offset;  // half way up what is drawn of it
    return [box.left + x, box.top + y, String(gd.data[0].x[i])];
}"""


def _new_page(browser) -> Page:
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(TIMEOUT)
    return page


def _ready(page: Page) -> None:
    wait_ready(page)
    expect(page.locator('[data-testid="stSkeleton"]')).to_have_count(0, timeout=TIMEOUT)


def _no_exception(page: Page, shot: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"drill_{shot}.png"), full_page=True)
    errors = page.locator('[data-testid="stException"]').all_inner_texts()
    assert not errors, f"{shot}: {errors}"


def _bar_chart(page: Page):
    """The Outcomes bar chart: the first plotly chart of the page (the trend chart comes after it)."""
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    expect(chart.locator(".js-plotly-plot .trace.bars").first).to_be_attached(timeout=TIMEOUT)
    return chart


def _bar_places(page: Page) -> list[str]:
    return _bar_chart(page).evaluate(BAR_PLACES)


def _hover_then_click(page: Page, chart, script: str, arg: object, label: str) -> list:
    """Hover the point `script` locates until plotly's hover label names `label`, then click it.

    The position is measured again on each try, so a late layout shift cannot send the click elsewhere.
    """
    hover = page.locator(".hoverlayer .hovertext", has_text=label)
    for _ in range(3):
        chart.scroll_into_view_if_needed()
        xy = chart.evaluate(script, arg)
        assert xy, f"no point for {label!r} on the chart"
        page.mouse.move(xy[0], xy[1])
        try:
            expect(hover.first).to_be_visible(timeout=5_000)
            break
        except AssertionError:
            page.mouse.move(0, 0)
    expect(hover.first).to_be_visible(timeout=1_000)
    page.mouse.click(xy[0], xy[1])
    return xy


def _click_bar(page: Page, places: list[str], index: int) -> str:
    """Click place `index` of the bar chart; returns its category label."""
    return _hover_then_click(page, _bar_chart(page), BAR_XY, index, places[index])[2]


def _open_outcomes_from_sidebar(page: Page, server: str) -> None:
    page.goto(server)
    sign_in(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Outcomes").click()
    expect(page).to_have_url(re.compile(r"/outcomes(\?|$)"), timeout=TIMEOUT)
    _ready(page)
    expect(page.get_by_role("heading", name="Outcomes", exact=True).first).to_be_visible(timeout=TIMEOUT)


def test_overview_state_tile_opens_state_outcomes(server: str, browser) -> None:
    page = _new_page(browser)
    page.goto(server)
    sign_in(page, "fundraiser", "demo-fundraiser-pass")
    expect(page.get_by_text("Students served by state", exact=False).first).to_be_visible(timeout=TIMEOUT)
    _no_exception(page, "overview")

    tiles = (
        page.locator('[data-testid="stPlotlyChart"]')
        .filter(has=page.locator(".js-plotly-plot text", has_text="TX"))
        .first
    )
    expect(tiles).to_be_visible(timeout=TIMEOUT)
    _ready(page)  # a click while the sign-in's last rerun still runs is dropped with the chart it lands on
    tiles.scroll_into_view_if_needed()
    states_with_data = tiles.evaluate("el => el.querySelector('.js-plotly-plot').data.find(t => t.customdata).x.length")
    _hover_then_click(page, tiles, TILE_XY, "TX", "TX:")

    expect(page).to_have_url(re.compile(r"/outcomes\?(.*&)?state=TX(&|$)"), timeout=TIMEOUT)
    _ready(page)
    expect(page.get_by_role("button", name="Texas")).to_be_visible(timeout=TIMEOUT)  # the breadcrumb's current crumb
    expect(page.get_by_role("button", name="Nation")).to_be_enabled(timeout=TIMEOUT)
    expect(page.get_by_role("heading", name=re.compile(r"by affiliate$")).first).to_be_visible(timeout=TIMEOUT)
    _no_exception(page, "overview_to_tx")
    affiliates = _bar_places(page)
    assert 1 <= len(affiliates) < states_with_data, affiliates  # per affiliate in Texas, not one per state
    assert "TX" not in affiliates
    page.close()


def test_outcomes_bar_drills_and_breadcrumb_climbs_back(server: str, browser) -> None:
    page = _new_page(browser)
    _open_outcomes_from_sidebar(page, server)
    expect(page.get_by_role("heading", name=re.compile(r"by state$")).first).to_be_visible(timeout=TIMEOUT)
    _no_exception(page, "nation")
    states = _bar_places(page)
    assert len(states) >= 20, states
    expect(page).not_to_have_url(re.compile(r"[?&]state="), timeout=TIMEOUT)

    clicked = _click_bar(page, states, states.index("TX") if "TX" in states else 0)
    expect(page).to_have_url(re.compile(rf"[?&]state={clicked}(&|$)"), timeout=TIMEOUT)
    _ready(page)
    expect(page.get_by_role("heading", name=re.compile(r"by affiliate$")).first).to_be_visible(timeout=TIMEOUT)
    _no_exception(page, "state")
    narrowed = _bar_places(page)
    assert 1 <= len(narrowed) < len(states), narrowed
    assert clicked not in narrowed

    page.get_by_role("button", name="Nation").click()
    expect(page).not_to_have_url(re.compile(r"[?&]state="), timeout=TIMEOUT)
    _ready(page)
    expect(page.get_by_role("heading", name=re.compile(r"by state$")).first).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_role("button", name="Nation")).to_be_disabled(timeout=TIMEOUT)
    _no_exception(page, "back_to_nation")
    assert _bar_places(page) == states
    page.close()


def _sign_in_here(page: Page, username: str, password: str, heading: str) -> None:
    """Sign in on whatever page the link opened, and wait for that page (not the Overview) to show."""
    for attempt in range(3):
        wait_ready(page)
        page.get_by_role("textbox", name="Username").fill(username)
        page.get_by_role("textbox", name="Password").fill(password)
        page.get_by_role("button", name="Sign in", exact=True).click()
        try:
            page.get_by_role("heading", name=heading, exact=True).first.wait_for(timeout=30_000)
            break
        except Exception:
            if attempt == 2:
                raise
    _ready(page)


def test_a_copied_link_to_a_drilled_filtered_view_opens_that_view_after_sign_in(server: str, browser) -> None:
    first = _new_page(browser)
    _open_outcomes_from_sidebar(first, server)
    states = _bar_places(first)  # highest rate first: the top one may be a small state new in the latest years
    state = _click_bar(first, states, states.index("NC") if "NC" in states else 0)
    expect(first).to_have_url(re.compile(rf"state={state}"), timeout=TIMEOUT)
    _ready(first)
    first.locator('[data-testid="stSidebar"]').get_by_role("combobox").first.click()
    first.get_by_role("option", name="2021-22").click()
    expect(first).to_have_url(re.compile(r"year=2021-22"), timeout=TIMEOUT)
    _ready(first)
    copied = first.url
    places = _bar_places(first)
    assert places and state not in places  # the bars are the state's affiliates now

    second = _new_page(browser)  # a new browser context: no cookie, no session
    second.goto(copied)
    expect(second.get_by_role("textbox", name="Username")).to_be_visible(timeout=TIMEOUT)
    _sign_in_here(second, "board", "demo-board-pass", "Outcomes")
    expect(second).to_have_url(re.compile(rf"state={state}"), timeout=TIMEOUT)
    assert parse_qs(urlparse(second.url).query) == parse_qs(urlparse(copied).query)
    assert _bar_places(second) == places
    expect(second.get_by_role("button", name=geo.state_name(state))).to_be_visible(timeout=TIMEOUT)
    _no_exception(second, "deep_link")
    first.context.close()
    second.context.close()


def _pick(page: Page, label: str, typed: str | None = None) -> None:
    """Choose in the drill's select by keyboard alone: focus it, type (or step down to the first), Enter."""
    page.get_by_role("combobox", name=re.compile(label)).focus()
    page.keyboard.press("Enter")
    if typed:
        page.keyboard.type(typed)
    else:
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    _ready(page)


def test_the_keyboard_drills_to_a_school_and_browser_back_steps_back(server: str, browser) -> None:
    page = _new_page(browser)
    _open_outcomes_from_sidebar(page, server)
    by = re.compile(r"tier 2 and tier 3 by (state|affiliate|school)$")
    heading = page.get_by_role("heading", name=by).first
    expect(heading).to_have_text(re.compile("by state$"), timeout=TIMEOUT)

    _pick(page, "Or pick a state", "NC")
    expect(page).to_have_url(re.compile(r"[?&]state=NC(&|$)"), timeout=TIMEOUT)
    expect(heading).to_have_text(re.compile("by affiliate$"), timeout=TIMEOUT)
    _pick(page, "Or pick an affiliate")
    expect(page).to_have_url(re.compile(r"[?&]affiliate=NC-"), timeout=TIMEOUT)
    expect(heading).to_have_text(re.compile("by school$"), timeout=TIMEOUT)
    # Back steps through what was done: the state's affiliates, then the nation.
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"[?&]affiliate="), timeout=TIMEOUT)
    _ready(page)
    expect(heading).to_have_text(re.compile("by affiliate$"), timeout=TIMEOUT)
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"[?&]state="), timeout=TIMEOUT)
    _ready(page)
    expect(heading).to_have_text(re.compile("by state$"), timeout=TIMEOUT)
    _no_exception(page, "back_to_the_nation")

    # Forward again, then a school by keyboard: the Schools page opens on it.
    page.go_forward()
    _ready(page)
    page.go_forward()
    expect(page).to_have_url(re.compile(r"[?&]affiliate=NC-"), timeout=TIMEOUT)
    _ready(page)
    expect(heading).to_have_text(re.compile("by school$"), timeout=TIMEOUT)
    _pick(page, "Or pick a school")
    expect(page).to_have_url(re.compile(r"/schools\?.*school="), timeout=TIMEOUT)
    _ready(page)
    expect(page.get_by_role("heading", name="Schools", exact=True).first).to_be_visible(timeout=TIMEOUT)
    _no_exception(page, "school_from_outcomes")
    page.close()


def test_a_school_bar_opens_that_school_on_the_schools_page(server: str, browser) -> None:
    page = _new_page(browser)
    page.goto(f"{server}/outcomes?state=NC&affiliate=NC-CHARLOTTE")
    expect(page.get_by_role("textbox", name="Username")).to_be_visible(timeout=TIMEOUT)
    _sign_in_here(page, "board", "demo-board-pass", "Outcomes")
    places = _bar_places(page)
    clicked = _click_bar(page, places, 0)
    expect(page).to_have_url(re.compile(r"/schools\?.*school="), timeout=TIMEOUT)
    _ready(page)
    picked = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Schools to compare")
    expect(picked).to_contain_text(clicked.split(" (")[0], timeout=TIMEOUT)
    _no_exception(page, "school_bar_to_schools")
    page.close()
