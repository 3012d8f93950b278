"""Screenshots of every page for the README: `python -m tools.screenshots URL` against a running demo app.

Signs in as the demo admin (and the lead for the Schools page) in Debian's Chromium and writes
docs/screenshots/<page>-desktop.png at 1440x900 and <page>-phone.png at 390x844.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from dashboard import access
from dashboard.data import users

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
READY = """() => {const a = document.querySelector('[data-testid=stApp]');
    return a && a.dataset.testScriptState === 'notRunning' && !document.querySelector('[data-testid=stSkeleton]')}"""
VIEWS = {"schools": "schools?metric=graduated", "profile": "profile?affiliate=NC-CHARLOTTE"}


def _sign_in(page, base: str, username: str, password: str) -> None:
    page.goto(base)
    for _ in range(3):
        page.wait_for_function(READY, timeout=180_000)
        page.get_by_role("textbox", name="Username").fill(username)
        page.get_by_role("textbox", name="Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        try:
            page.get_by_role("heading", name="Impact overview").wait_for(timeout=30_000)
            time.sleep(2)  # the cookie is written on the run after sign-in
            return
        except Exception:
            continue
    raise RuntimeError("could not sign in")


def main(base: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    admin = next(a for a in users.DEMO_ACCOUNTS if a.role == "admin")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for size, viewport in (("desktop", {"width": 1440, "height": 900}), ("phone", {"width": 390, "height": 844})):
            page = browser.new_page(viewport=viewport)
            _sign_in(page, base, admin.username, admin.password)
            for spec in access.PAGES:
                name = Path(spec.script).stem
                page.goto(f"{base}/{VIEWS.get(name, spec.url_path)}")
                page.wait_for_function(READY, timeout=180_000)
                time.sleep(2.5)  # charts and the map draw after the run
                page.screenshot(path=str(OUT / f"{name}-{size}.png"))
                print(OUT / f"{name}-{size}.png")
            page.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8501")
