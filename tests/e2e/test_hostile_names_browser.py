"""Names holding HTML, script, Markdown and links render as text everywhere a name shows, and nothing runs.

The database the suite's server built is copied, some names in it are replaced with hostile ones, and a second app
serves the copy. Each page that shows those names is opened; a dialog or a script setting window.__xss fails the test,
and so does a link or image to an outside host, bold text or math drawn from a name or from a URL value.
"""

from __future__ import annotations

import sqlite3
import time
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from dashboard.data import users
from tests.e2e.conftest import ARTIFACTS, start_app, submit_sign_in, wait_ready

AFFILIATE = users.DEMO_LEAD_AFFILIATE
# Markdown a lead could put in its own affiliate's or schools' names: a phishing link for the board, an image
# fetched from an outside host, a bare URL and a www. host (autolinked), math, a colour directive, an email.
MARKDOWN = (
    "**bold** [link](http://evil.example/a) ![t](http://evil.example/t.png) http://evil.example/b "
    "www.evil.example $x$ :red[x] board@evil.example"
)
HOSTILE_AFFILIATE = (
    f"<img src=x onerror=\"window.__xss='affiliate';alert(1)\">Charlotte **bold** [x](javascript:alert(2)) {MARKDOWN}"
)
HOSTILE_SCHOOLS = (
    f"<script>window.__xss='school';alert(3)</script>Elm Street {MARKDOWN}",
    "[click me](javascript:alert(4)) <a href=\"javascript:window.__xss='link'\">Oak</a>",
)
# A link to a host other than the app's, an image from one, bold or math from a name: each one found, by page.
MARKUP_FROM_DATA = """() => {
    const found = [];
    for (const a of document.querySelectorAll("a[href]")) {
        const url = new URL(a.href, location.href);
        if (url.host !== location.host || url.protocol === "javascript:") found.push("a " + a.href);
    }
    for (const img of document.querySelectorAll("img[src]")) {
        const url = new URL(img.src, location.href);
        if (url.host !== location.host) found.push("img " + img.src);
    }
    for (const b of document.querySelectorAll("strong, b")) {
        if (/bold|Charlotte|Elm/.test(b.textContent)) found.push("strong " + b.textContent);
    }
    if (document.querySelector(".katex")) found.push("math");
    return found;
}"""
HOSTILE_PARTNER = '=HYPERLINK("http://evil.example","x") <b onmouseover="window.__xss=\'partner\'">Bakery</b>'


@pytest.fixture(scope="module")
def hostile_app(server: str, e2e_data_dir, browser, tmp_path_factory: pytest.TempPathFactory):
    """A second app on a copy of the suite's database with hostile names; yields (url, school ids)."""
    first = browser.new_page()
    first.goto(server)  # the suite's app builds its demo database on its first visit
    expect(first.get_by_role("textbox", name="Username")).to_be_visible(timeout=180_000)
    first.close()
    folder = tmp_path_factory.mktemp("hostile")
    with (
        sqlite3.connect(e2e_data_dir / "dashboard.sqlite3") as src,
        sqlite3.connect(folder / "dashboard.sqlite3") as dst,
    ):
        src.backup(dst)
    with sqlite3.connect(folder / "dashboard.sqlite3") as conn:
        conn.execute("UPDATE affiliates SET name = ? WHERE affiliate_id = ?", (HOSTILE_AFFILIATE, AFFILIATE))
        ids = [r[0] for r in conn.execute(
            "SELECT school_id FROM schools WHERE affiliate_id = ? ORDER BY school_id LIMIT 2", (AFFILIATE,))]  # fmt: skip
        for school_id, name in zip(ids, HOSTILE_SCHOOLS, strict=True):
            conn.execute("UPDATE schools SET name = ? WHERE school_id = ?", (name, school_id))
        partner = conn.execute(
            "SELECT p.partner_id FROM partnerships p JOIN schools s USING (school_id) WHERE s.affiliate_id = ?"
            " ORDER BY p.in_kind_usd DESC LIMIT 1", (AFFILIATE,)).fetchone()[0]  # fmt: skip
        conn.execute("UPDATE partners SET name = ? WHERE partner_id = ?", (HOSTILE_PARTNER, partner))
    proc, url = start_app(folder, folder)
    yield url, ids
    proc.terminate()
    proc.wait(timeout=20)


def test_hostile_names_show_as_text_and_run_nothing(hostile_app, browser) -> None:
    url, ids = hostile_app
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    submit_sign_in(page, "admin", "demo-admin-pass")
    year = "2024-25"
    views = {
        "outcomes-state": f"/outcomes?state=NC&year={year}",
        "outcomes-affiliate": f"/outcomes?state=NC&affiliate={AFFILIATE}&year={year}",
        "profile": f"/profile?affiliate={AFFILIATE}&year={year}",
        "schools": f"/schools?school={ids[0]}&school={ids[1]}&year={year}",
        "partners": f"/partners?state=NC&year={year}",
        "map": f"/map?state=NC&year={year}",
        "url-values-outcomes": f"/outcomes?state={quote(MARKDOWN)}&year={year}",
        "url-values-schools": f"/schools?metric={quote(MARKDOWN)}&school={quote(MARKDOWN)}&year={quote(MARKDOWN)}",
        "url-values-profile": f"/profile?affiliate={quote(MARKDOWN)}",
    }
    for name, path in views.items():
        page.goto(url + path)
        if name.startswith("url-values"):
            # The notice quoting the value shows until the page has rewritten its URL (a second or two): watch it.
            seen, deadline = False, time.time() + 6
            while time.time() < deadline and not seen:
                assert page.evaluate(MARKUP_FROM_DATA) == [], name
                seen = MARKDOWN[:40] in _shown_text(page)
                time.sleep(0.05)
            assert seen, f"{name}: the notice quoting the URL value as written never showed"
        wait_ready(page)
        time.sleep(1.5)  # charts and the map draw after the script run
        # Hover every plotly bar and point once, so hover labels holding the names are drawn too.
        for box in page.locator(".js-plotly-plot .point").all()[:40]:
            try:
                box.hover(force=True, timeout=2_000)
            except Exception:  # a point scrolled out of reach (tiny or clipped): its label is checked elsewhere
                continue
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"hostile-{name}.png"), full_page=True)
        assert page.evaluate("() => window.__xss") is None, name
        for frame in page.frames:
            assert frame.evaluate("() => window.__xss") is None, (name, frame.url)
        assert not dialogs, (name, dialogs)
        assert page.locator('[data-testid="stException"]').count() == 0, name
        assert page.locator(".js-plotly-plot svg a").count() == 0, f"{name}: a name's <a> became a chart link"
        assert page.evaluate(MARKUP_FROM_DATA) == [], name
    page.goto(url + views["profile"])
    wait_ready(page)
    expect(page.get_by_text("<img src=x onerror=", exact=False).first).to_be_visible(timeout=30_000)
    shown = _shown_text(page)
    assert "**bold** [x](javascript:alert(2))" in shown and MARKDOWN in shown  # the name as written, nothing drawn
    page.close()


def _shown_text(page) -> str:
    """The page's visible text without the invisible word joiners markdown_text puts in URLs and shortcodes."""
    return page.evaluate("() => document.body.innerText").replace("\u2060", "")


def test_tables_offer_no_csv_export_of_their_own(server: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server)
    submit_sign_in(page, "admin", "demo-admin-pass")
    page.goto(server + "/partners?year=2024-25")
    wait_ready(page)
    grid = page.locator('[data-testid="stDataFrame"]').last
    grid.scroll_into_view_if_needed()
    grid.hover()
    toolbar = page.locator('[data-testid="stElementToolbar"]').last
    expect(toolbar.get_by_role("button", name="Search")).to_be_visible(timeout=30_000)  # the toolbar is drawn
    assert toolbar.get_by_role("button", name="Download as CSV").count() == 0
    expect(page.get_by_role("button", name="Download CSV").last).to_be_visible()  # our audited, formula-safe one
    page.close()
