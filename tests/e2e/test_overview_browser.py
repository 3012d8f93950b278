"""The Overview in headless Chromium on the prepared demo database: KPIs appear, no exception."""

from __future__ import annotations

from urllib.parse import urlparse

from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, sign_in, wait_ready


def test_overview_shows_kpis_without_errors(server: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: outside.append(r.url) if urlparse(r.url).netloc != urlparse(server).netloc
            and not r.url.startswith("data:") else None)  # fmt: skip
    page.goto(server)
    sign_in(page, "board", "demo-board-pass")
    page.get_by_text("Students served", exact=True).first.wait_for(timeout=120_000)
    wait_ready(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    assert "Students served" in labels and "Graduated (seniors)" in labels
    served = values[labels.index("Students served")]
    assert served.endswith("M") and 1.9 <= float(served[:-1]) <= 2.2  # the latest year: about 2.1M
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("Demo data").count() >= 1
    assert not errors, errors
    assert not outside, outside

    page.get_by_role("combobox").first.click()
    page.get_by_role("option", name="2021-22").click()
    wait_ready(page)
    page.wait_for_url("**year=2021-22**", timeout=30_000)
    served_value = page.locator('[data-testid="stMetricValue"]').nth(labels.index("Students served"))
    expect(served_value).to_have_text("1.8M", timeout=30_000)  # 2021-22: the published 1.8 million
    page.close()
