"""Screenshots of every page for the README: `python -m tools.screenshots [URL] [--out DIR] [--page NAME ...]`
against a running demo app.

Signs in as the demo admin (the lead for the Schools page, whose view is one affiliate's schools) in Debian's
Chromium and writes <page>-desktop.png at 1440 px and <page>-phone.png at 390 px, on a phone's user agent as the
browser suite uses, each the whole page from top to bottom (up to 7,000 px), into docs/screenshots or DIR.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from dashboard import access
from dashboard.data import users

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
READY = """() => {const a = document.querySelector('[data-testid=stApp]');
    return a && a.dataset.testScriptState === 'notRunning' && !document.querySelector('[data-testid=stSkeleton]')}"""
VIEWS = {"schools": "schools?metric=graduated", "profile": "profile?affiliate=NC-CHARLOTTE"}
LEAD_PAGES = {"schools"}
MAX_HEIGHT = 7000  # px: longer pages are cut there
# Chrome on an Android phone: Streamlit's front end decides "mobile" from the user agent, not the width.
PHONE_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Mobile Safari/537.36"
)
SIZES = {
    "desktop": {"viewport": {"width": 1440, "height": 900}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "user_agent": PHONE_AGENT,
    },
}


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


def main(base: str, out: Path, only: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    accounts = {a.role: a for a in users.DEMO_ACCOUNTS}
    pages = [s for s in access.PAGES if not only or Path(s.script).stem in only]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for size, options in SIZES.items():
            for role in ("admin", "affiliate_lead"):
                mine = [s for s in pages if (Path(s.script).stem in LEAD_PAGES) == (role == "affiliate_lead")]
                if not mine:
                    continue
                context = browser.new_context(**options)
                page = context.new_page()
                _sign_in(page, base, accounts[role].username, accounts[role].password)
                for spec in mine:
                    name = Path(spec.script).stem
                    page.goto(f"{base}/{VIEWS.get(name, spec.url_path)}")
                    page.wait_for_function(READY, timeout=180_000)
                    time.sleep(3)  # charts and the map draw after the run
                    # Streamlit scrolls inside its own container, so the window is made as tall as the page.
                    tall = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
                    page.set_viewport_size({"width": options["viewport"]["width"], "height": min(tall, MAX_HEIGHT)})
                    time.sleep(1.5)
                    page.screenshot(path=str(out / f"{name}-{size}.png"))
                    page.set_viewport_size(options["viewport"])
                    print(out / f"{name}-{size}.png")
                context.close()
        browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default="http://localhost:8501")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--page", action="append", default=[], help="a page's script name (overview, map, …)")
    arguments = parser.parse_args()
    main(arguments.url, arguments.out, arguments.page)
