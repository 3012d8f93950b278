"""Every page for every role in headless Chromium: it renders without an exception or console error, makes no
request outside the app, passes axe-core, and is screenshotted; pages outside the role say so; a state on the
Overview opens Outcomes there; a filter changes the URL and the figures; a CSV download holds the rows it should;
sign-out returns to the form. Every page is also opened 390 px wide, as on a phone."""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from dashboard import access, formatting
from dashboard.data import contract, geo, users
from dashboard.tools import demo
from tests.coding import drawn_rate
from tests.e2e.conftest import ARTIFACTS, submit_sign_in, wait_ready
from tests.e2e.test_drilldown_browser import TILE_XY, _hover_then_click
from tests.e2e.test_map_browser import MAP_FRAME
from tools.screenshots import PHONE_AGENT

TIMEOUT = 90_000
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
AXE = Path(__file__).parent / "vendor" / "axe.min.js"  # axe-core 4.14.1 from npm (MPL-2.0), kept for closed networks
ROLES = {a.role: a for a in users.DEMO_ACCOUNTS}
# Headings each page puts first: seeing it proves the page itself ran, not only the app around it.
TITLES = {
    "overview": "Impact overview",
    "outcomes": "Outcomes",
    "map": "Map",
    "profile": "Affiliate profile",
    "schools": "Schools",
    "partners": "Community partners",
    "roi": "Return on investment",
    "data": "Data",
    "admin": "Accounts and audit",
    "glossary": "Glossary",
}


@pytest.fixture(scope="module")
def network() -> demo.Network:
    """The demo network the server built (same generator, same default scale and seed): what CSVs are checked against."""
    return demo.generate()


# Opened at /outcomes, Streamlit's front end first asks /outcomes/_stcore/health and host-config, in case the
# app is served under that prefix, and gets 404 before it asks the root. That is Streamlit's, not ours.
STREAMLIT_PREFIX_PROBE = re.compile(r"/[^/]+/_stcore/(health|host-config)$")


def _probe(url: str) -> bool:
    return bool(STREAMLIT_PREFIX_PROBE.search(urlparse(url).path))


class Watch:
    """Console errors, page errors and requests leaving the app's origin, recorded while a page is open."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.errors: list[str] = []
        self.outside: list[str] = []
        origin = urlparse(base_url).netloc
        page.on(
            "console",
            lambda m: (
                self.errors.append(m.text) if m.type == "error" and not _probe(m.location.get("url", "")) else None
            ),
        )
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        # A page left while its downloads were still being fetched aborts them: that is navigation, not failure.
        page.on(
            "requestfailed",
            lambda r: (
                self.errors.append(f"request failed: {r.url} {r.failure}")
                if "ERR_ABORTED" not in (r.failure or "")
                else None
            ),
        )
        page.on(
            "response",
            lambda r: self.errors.append(f"{r.status} {r.url}") if r.status >= 400 and not _probe(r.url) else None,
        )
        page.on(
            "request",
            lambda r: (
                self.outside.append(r.url)
                if urlparse(r.url).netloc not in ("", origin) and not r.url.startswith(("data:", "blob:"))
                else None
            ),
        )


def _artifacts(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _keep_failure(page: Page, name: str, watch: Watch) -> None:
    """On failure: the page's HTML and what the console said, beside its screenshot."""
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}.html").write_text(page.content())
    (ARTIFACTS / f"{name}.console.txt").write_text("\n".join([*watch.errors, "-- outside:", *watch.outside]))
    page.screenshot(path=str(ARTIFACTS / f"{name}-failed.png"), full_page=True)


def _settled(page: Page) -> None:
    """Wait until no rerun is under way and nothing is drawn faded as stale: while a rerun runs, Streamlit fades the
    old elements, and faded text fails axe's contrast rule though the page, once drawn, passes."""
    wait_ready(page, TIMEOUT)
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=TIMEOUT)


def _serious_axe_violations(page: Page) -> list[str]:
    """Serious and critical axe violations of the settled page. A rerun the app starts by itself (the cookie component
    reporting in, the URL being written back) can begin while axe runs; so a page that fails is settled and checked
    once more, and only what fails both times is reported: a real defect fails every time."""
    page.add_script_tag(path=str(AXE))
    script = """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.help + ' @ ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))"""
    _settled(page)
    first = list(page.evaluate(script))
    if not first:
        return first
    time.sleep(2.0)
    _settled(page)
    return [v for v in page.evaluate(script) if v.split(" @ ")[0] in {f.split(" @ ")[0] for f in first}]


def _open(page: Page, base_url: str, url_path: str) -> None:
    page.goto(f"{base_url}/{url_path}")
    wait_ready(page, TIMEOUT)
    expect(page.locator('[data-testid="stSkeleton"]')).to_have_count(0, timeout=TIMEOUT)


def _wait_drawn(page: Page) -> None:
    """Charts and maps draw after the script finishes: wait until every plotly chart has its SVG, and give a map's
    frame a second to draw its tiles and markers (the map's own test waits on the markers themselves)."""
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')]
            .every(chart => chart.querySelector('.main-svg'))""",
        timeout=TIMEOUT,
    )
    if page.locator(MAP_FRAME).count():
        time.sleep(1.0)


def _metric(page: Page, label: str) -> str:
    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    return values[labels.index(label)]


def _sidebar_closed(page: Page) -> bool:
    """Whether the sidebar is off screen (Streamlit slides it out to the left) and the button to open it shows."""
    box = page.locator('[data-testid="stSidebar"]').bounding_box()
    return (box is None or box["x"] + box["width"] <= 1) and page.locator(
        '[data-testid="stExpandSidebarButton"]'
    ).is_visible()


def _walk_on_a_phone(browser, signed_in, base_url: str, role: str) -> None:
    """Every page of the role 390 px wide on a phone's browser (its user agent: Streamlit closes the sidebar after a
    menu choice only there), reached through the menu as a person would, with the sidebar closed after each choice."""
    phone = browser.new_context(viewport=PHONE, user_agent=PHONE_AGENT, is_mobile=True, has_touch=True)
    phone.add_cookies(signed_in.cookies())  # the same person, signed in, on their phone
    page = phone.new_page()
    page.set_default_timeout(TIMEOUT)
    try:
        _open(page, base_url, "")
        expect(page.get_by_role("heading", name=TITLES["overview"], exact=True).first).to_be_visible(timeout=TIMEOUT)
        assert _sidebar_closed(page), "the sidebar starts closed on a phone"
        for spec in access.allowed(role):
            name = Path(spec.script).stem
            page.locator('[data-testid="stExpandSidebarButton"]').click()
            link = page.locator('[data-testid="stSidebarNav"] a').filter(has_text=spec.title).first
            expect(link).to_be_visible(timeout=TIMEOUT)
            link.click()
            wait_ready(page, TIMEOUT)
            expect(page.get_by_role("heading", name=TITLES[name], exact=True).filter(visible=True).first).to_be_visible(
                timeout=TIMEOUT
            )
            page.wait_for_function(
                "() => { const r = document.querySelector('[data-testid=stSidebar]')?.getBoundingClientRect();"
                " return !r || r.right <= 1; }",
                timeout=TIMEOUT,
            )  # it slides out over a few hundred milliseconds
            assert _sidebar_closed(page), f"the sidebar stays open over {spec.title} after choosing it"
            assert page.locator('[data-testid="stException"]').count() == 0, "a Streamlit exception is shown"
            _wait_drawn(page)
            assert not (clashes := page.evaluate(CLASHING_TITLES)), f"titles run into each other on {name}: {clashes}"
            if name == "map":
                _check_the_whole_map_shows(page)
            if name == "schools" and role == "affiliate_lead":
                header = page.locator('[data-testid="stDataFrame"] [role="columnheader"]')
                expect(header.first).to_be_attached(timeout=TIMEOUT)  # the grid draws once it is in view
                headers = header.all_inner_texts()
                assert headers[:2] == ["School", "Rate"], f"a phone shows the lead's table as {headers}"
            _artifacts(page, f"{role}-{name}-phone")
    finally:
        phone.close()


# Every chart title and panel title (plotly draws both as text boxes) that runs into another or past the chart's
# edge, as "chart n: text".
CLASHING_TITLES = """() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')].flatMap((chart, n) => {
    const edge = chart.getBoundingClientRect();
    const titles = [...chart.querySelectorAll('.annotation-text, .gtitle')]
        .map(e => [e.textContent, e.getBoundingClientRect()]).filter(([, r]) => r.width > 0);
    const hit = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
    return titles.flatMap(([text, r], i) => [
        ...(r.left < edge.left - 1 || r.right > edge.right + 1 ? [`chart ${n}: '${text}' past the edge`] : []),
        ...titles.slice(i + 1).filter(([, o]) => hit(r, o)).map(([other]) => `chart ${n}: '${text}' over '${other}'`),
    ]);
})"""
# Cities from corner to corner of the map: on a phone its legend covered Florida and the Gulf, its layer list the
# Northwest.
CITIES = {"Seattle": (47.61, -122.33), "Portland": (45.52, -122.68), "San Diego": (32.72, -117.16),
          "Houston": (29.76, -95.37), "New Orleans": (29.95, -90.07), "Atlanta": (33.75, -84.39),
          "Tampa": (27.95, -82.46), "Orlando": (28.54, -81.38), "Miami": (25.76, -80.19), "Boston": (42.36, -71.06)}  # fmt: skip
COVERED = """(cities) => {
    const map = window.map, frame = map.getContainer().getBoundingClientRect();
    const covers = [...document.querySelectorAll('.map-legend, .leaflet-control-layers')].map(e => e.getBoundingClientRect());
    return Object.entries(cities).filter(([, at]) => {
        const p = map.latLngToContainerPoint(at), x = frame.left + p.x, y = frame.top + p.y;
        return covers.some(r => x >= r.left && x <= r.right && y >= r.top && y <= r.bottom);
    }).map(([name]) => name);
}"""


def _check_the_whole_map_shows(page: Page) -> None:
    """On a phone the map's legend and layer list start folded, leaving every corner's cities in view."""
    expect(page.frame_locator(MAP_FRAME).locator(".map-cluster").first).to_be_visible(timeout=TIMEOUT)
    leaflet = next(f for f in page.frames if "st_folium" in f.url)
    covered = leaflet.evaluate(COVERED, {name: list(at) for name, at in CITIES.items()})
    assert not covered, f"the map's legend or layer list covers {covered} on a phone"
    assert not leaflet.evaluate("() => document.querySelector('.map-legend').open"), "the legend starts open"


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_sees_its_pages_whole_and_is_refused_the_rest(
    base_url: str, browser, role: str, network, served_database: Path | None
) -> None:
    account = ROLES[role]
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    watch = Watch(page, base_url)
    step = f"{role}-signin"
    try:
        page.goto(base_url)
        submit_sign_in(page, account.username, account.password)
        page.wait_for_function("() => document.cookie.includes('impact_dashboard=')", timeout=30_000)

        menu = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
        assert [m.strip().splitlines()[-1] for m in menu] == [p.title for p in access.allowed(role)]

        for spec in access.allowed(role):
            name = Path(spec.script).stem
            step = f"{role}-{name}"
            _open(page, base_url, spec.url_path)
            expect(page.get_by_role("heading", name=TITLES[name], exact=True).filter(visible=True).first).to_be_visible(
                timeout=TIMEOUT
            )
            _wait_drawn(page)
            assert page.locator('[data-testid="stException"]').count() == 0, "a Streamlit exception is shown"
            if role == "affiliate_lead" and name == "outcomes":
                _check_the_lead_s_outcomes(page, network)
            _artifacts(page, step)
            violations = _serious_axe_violations(page)
            assert not violations, violations
            assert not watch.errors, watch.errors
            assert not watch.outside, watch.outside

        _walk_on_a_phone(browser, context, base_url, role)
        assert not watch.errors, watch.errors

        for spec in access.refused(role):
            step = f"{role}-refused-{Path(spec.script).stem}"
            _open(page, base_url, spec.url_path)
            expect(page.get_by_role("heading", name="Not available for your role").first).to_be_visible(timeout=TIMEOUT)
            assert page.get_by_role("heading", name=TITLES[Path(spec.script).stem], exact=True).count() == 0

        step = f"{role}-drill"
        _open(page, base_url, "")
        tiles = (
            page.locator('[data-testid="stPlotlyChart"]')
            .filter(has=page.locator(".js-plotly-plot text", has_text="NC"))
            .first
        )
        expect(tiles).to_be_visible(timeout=TIMEOUT)
        _hover_then_click(page, tiles, TILE_XY, "NC", "NC:")
        expect(page).to_have_url(re.compile(r"/outcomes\?(.*&)?state=NC(&|$)"), timeout=TIMEOUT)
        wait_ready(page, TIMEOUT)
        if role == "affiliate_lead":  # a lead's drill starts at its own affiliate: its schools, not the state's
            expect(page).to_have_url(re.compile(rf"affiliate={users.DEMO_LEAD_AFFILIATE}"), timeout=TIMEOUT)
            heading = page.get_by_role("heading", name=re.compile(r"tier 2 and tier 3 by school$")).first
            expect(heading).to_be_visible(timeout=TIMEOUT)
            expect(page.get_by_role("button", name="North Carolina")).to_have_count(0)
        else:
            expect(page.get_by_role("button", name="North Carolina")).to_be_visible(timeout=TIMEOUT)
        assert page.locator('[data-testid="stException"]').count() == 0

        step = f"{role}-filter"
        _open(page, base_url, "")
        before = _metric(page, "Students served")
        page.locator('[data-testid="stSidebar"]').get_by_text("Title I only", exact=True).click()
        page.wait_for_url(re.compile(r"title_i=yes"), timeout=TIMEOUT)
        wait_ready(page, TIMEOUT)
        expect(page.locator('[data-testid="stMetricValue"]').first).not_to_have_text(before, timeout=TIMEOUT)
        assert _metric(page, "Students served") != before

        step = f"{role}-download"
        _check_state_csv(page, network, role, served_database)

        step = f"{role}-signout"
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("textbox", name="Username").first).to_be_visible(
            timeout=TIMEOUT
        )  # the old run may still be fading
        assert not watch.errors, watch.errors
    except Exception:
        _keep_failure(page, step, watch)
        raise
    finally:
        context.close()


# Each drawn trace of a chart: its name, kind of bar (plotly keeps `meta`), categories and heights.
DRAWN_TRACES = """() => [...document.querySelectorAll('[data-testid=stPlotlyChart] .js-plotly-plot')].map(gd =>
    gd.data.map(t => ({name: t.name, meta: t.meta ?? null, x: [...(t.x ?? [])], y: [...(t.y ?? [])]})))"""


def _check_the_lead_s_outcomes(page: Page, network: demo.Network) -> None:
    """The lead's Outcomes names its own figures as its own, and its state and the nation as benchmarks with their
    true values: each benchmark bar's height against pandas over the raw tables (the state over every school of it)."""
    affiliate = users.DEMO_LEAD_AFFILIATE
    home = network.affiliates.set_index("affiliate_id").loc[affiliate]
    state_name = geo.state_name(home["state"])
    own = home["name"].removeprefix("Communities In Schools of ")  # the bar's short name
    charts = page.evaluate(DRAWN_TRACES)
    bars = next(c for c in charts if any(t["meta"] == "benchmark" for t in c))
    ticks = page.locator('[data-testid="stPlotlyChart"]').first.locator(".xtick text").all_text_contents()
    assert {f"{own}, all schools", state_name, "Nation"} <= set(ticks), ticks
    assert home["state"] not in ticks, "the state is named by its code, as if it were the lead's own bar"
    year = max(network.outcomes["school_year"])
    o = network.outcomes.merge(network.schools[["school_id", "affiliate_id", "state"]], on="school_id")
    o = o[(o["school_year"] == year) & (o["metric"] == contract.METRICS[0])]
    expected = {f"{own}, all schools": o[o["affiliate_id"] == affiliate], state_name: o[o["state"] == home["state"]],
                "Nation": o}  # fmt: skip
    compared = 0
    for trace in (t for t in bars if t["meta"] == "benchmark"):
        tier = 2 if trace["name"].startswith("Tier 2") else 3
        for label, height in zip(trace["x"], trace["y"], strict=True):
            part = expected[label][expected[label]["tier"] == tier]
            if height is None:  # suppressed: drawn as a mark, no bar
                continue
            assert height == pytest.approx(drawn_rate(part["met"].sum(), part["eligible"].sum())), (label, tier)
            compared += 1
    assert compared >= 4
    own_schools = set(network.schools.loc[network.schools["affiliate_id"] == affiliate, "name"])
    places = {x for t in bars if t["meta"] == "place" for x in t["x"]}
    assert places and places <= {formatting.plotly_text(n) for n in own_schools}
    trend = page.get_by_text(re.compile(rf"^{formatting.LABELS[contract.METRICS[0]]} for ")).first
    expect(trend).to_contain_text(f"for {home['name']},")


@pytest.fixture(scope="module")
def served_database(request: pytest.FixtureRequest) -> Path | None:
    """The SQLite file behind the app under test, where this suite started it (not for DASHBOARD_E2E_URL)."""
    if os.environ.get("DASHBOARD_E2E_URL"):
        return None
    request.getfixturevalue("server")
    return request.getfixturevalue("e2e_data_dir") / "dashboard.sqlite3"


def _downloads_audited(database: Path, username: str) -> list[str]:
    with closing(sqlite3.connect(database)) as conn:
        rows = conn.execute(
            "SELECT detail FROM audit_log WHERE username = ? AND event = ? ORDER BY event_id",
            (username, users.DOWNLOADED),
        ).fetchall()
    return [detail for (detail,) in rows]


def _check_state_csv(page: Page, network: demo.Network, role: str, database: Path | None) -> None:
    """The students-by-state download of the filtered Overview: one row per state in view, sums from the raw rows;
    and one audit row naming the user and the file."""
    username = ROLES[role].username
    audited_before = _downloads_audited(database, username) if database else []
    expander = page.locator(
        '[data-testid="stMain"] [data-testid="stExpander"]'
    ).first  # the sidebar's glossary is not it
    expander.locator("summary").click()
    wait_ready(page, TIMEOUT)
    button = expander.get_by_role("button", name="Download CSV")
    button.scroll_into_view_if_needed()
    for attempt in range(3):  # a click landing while the page reruns is dropped, as for a person; click again
        try:
            with page.expect_download(timeout=30_000) as info:
                button.click()
            break
        except Exception:
            if attempt == 2:
                raise
            wait_ready(page, TIMEOUT)
    heading, *lines = Path(info.value.path()).read_text().splitlines()
    # One line names the page and the view's filters; then display headers.
    # A lead's view names its affiliate first ("Your affiliate: ..."), the board's starts with the year.
    assert heading.startswith("# Impact overview; ") and "School year " in heading and "Title I only" in heading, (
        heading
    )
    rows = [{"state": r["State"], "students_served": r["Students served"]} for r in csv.DictReader(lines)]
    if database:
        audited = _downloads_audited(database, username)
        assert audited[: len(audited_before)] == audited_before
        assert set(audited[len(audited_before) :]) == {info.value.suggested_filename}, audited[len(audited_before) :]
    year = max(network.school_years["school_year"])
    sy = network.school_years.merge(network.schools, on="school_id")
    sy = sy[(sy["school_year"] == year) & sy["title_i"].astype(bool)]
    if role == "affiliate_lead":
        sy = sy[sy["affiliate_id"] == users.DEMO_LEAD_AFFILIATE]
    expected = sy.groupby("state")["students_served"].sum()
    assert sorted(r["state"] for r in rows) == sorted(expected.index)
    # A state resting on a small count (or its complement) reads '<10'; every other one is exact.
    shown = pd.Series({r["state"]: int(float(r["students_served"])) for r in rows if r["students_served"] != "<10"})
    hidden = [r["state"] for r in rows if r["students_served"] == "<10"]
    assert len(hidden) <= 2, hidden
    assert (shown.sort_index() == expected[shown.index].sort_index()).all(), json.dumps(rows[:3])
