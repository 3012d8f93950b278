"""Peak memory of the app: `streamlit run app.py` on a database, an admin clicking through every page in headless
Chromium, then the server process's VmHWM from /proc. JSON on the last stdout line; run by the benchmark.

The database must be a demo one (the benchmark marks its build as the demo, as db.prepare does), so the demo
admin account exists once the app has started.

    python -m tools.app_memory <database url>
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from dashboard import access

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("BROWSER_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ADMIN, ADMIN_PASSWORD = "admin", "demo-admin-pass"
TIMEOUT_MS = 300_000
READY = """() => {
    const app = document.querySelector('[data-testid=stApp]');
    return app && app.dataset.testConnectionState === 'CONNECTED'
        && app.dataset.testScriptState === 'notRunning'
        && !document.querySelector('[data-testid=stSkeleton]');
}"""


def _progress(message: str) -> None:
    print(f"[app_memory {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_bytes(pid: int, field: str) -> int:
    """A memory field of /proc/<pid>/status (VmRSS, VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def _wait_ready(page, timeout_ms: int = TIMEOUT_MS) -> None:
    page.wait_for_function(READY, timeout=timeout_ms)


def _sign_in(page) -> None:
    """Fill the form until the form is gone (a click during the cookie component's first rerun is dropped)."""
    for _ in range(5):
        _wait_ready(page)
        page.wait_for_timeout(1_000)  # the cookie component reports in and reruns the page once
        _wait_ready(page)
        page.get_by_role("textbox", name="Username").wait_for(timeout=TIMEOUT_MS)
        page.get_by_role("textbox", name="Password").fill(ADMIN_PASSWORD)
        page.get_by_role("textbox", name="Username").fill(ADMIN)
        page.get_by_role("button", name="Sign in").click()
        try:
            page.locator("[data-testid=stSidebarNav]").wait_for(timeout=8_000)
            _wait_ready(page)
            return
        except Exception:
            continue
    raise RuntimeError("the sign-in form did not let the admin in")


def _markers_visible_s(page, started: float) -> float | None:
    """Seconds from the click on the Map link until a marker or cluster shows inside the map's iframe."""
    try:
        frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]').first
        frame.locator(".marker-cluster, .leaflet-marker-icon").first.wait_for(state="visible", timeout=60_000)
        return time.perf_counter() - started
    except Exception:
        return None


def walk(base_url: str, pid: int) -> dict[str, Any]:
    """Sign in, click every page in the menu, and read the server's memory."""
    from playwright.sync_api import sync_playwright

    result: dict[str, Any] = {"visited": [], "page_ms": {}, "markers_visible_s": None, "exceptions": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(base_url)
            _sign_in(page)
            result["start_rss_bytes"] = status_bytes(pid, "VmRSS")
            nav = page.locator("[data-testid=stSidebarNav]")
            for spec in access.allowed("admin"):
                _progress(f"visiting {spec.title}")
                started = time.perf_counter()
                nav.get_by_role("link", name=spec.title, exact=True).click()
                page.wait_for_timeout(300)  # let the rerun start before waiting for it to end
                _wait_ready(page)
                result["page_ms"][spec.title] = (time.perf_counter() - started) * 1000
                if page.locator("[data-testid=stException]").count():
                    result["exceptions"].append(spec.title)
                if spec.url_path == "map":
                    result["markers_visible_s"] = _markers_visible_s(page, started)
                result["visited"].append(spec.title)
        finally:
            browser.close()
    result["end_rss_bytes"] = status_bytes(pid, "VmRSS")
    result["peak_rss_bytes"] = status_bytes(pid, "VmHWM")
    return result


def main(url: str) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        return {"error": f"no Chromium at {CHROMIUM}"}
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="app_memory_") as tmp:
        env = {**os.environ, "DASHBOARD_DATABASE_URL": url, "DASHBOARD_DATA_DIR": tmp}
        log_path = Path(tmp) / "streamlit.log"
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                 "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                base = f"http://127.0.0.1:{port}"
                deadline = time.time() + 120
                while True:
                    try:
                        urllib.request.urlopen(f"{base}/_stcore/health", timeout=2)
                        break
                    except OSError:
                        if time.time() > deadline or proc.poll() is not None:
                            return {"error": f"streamlit did not start: {log_path.read_text()[-500:]}"}
                        time.sleep(0.5)
                _progress(f"app on port {port} (pid {proc.pid}); signing in")
                try:
                    return walk(base, proc.pid)
                except Exception as exc:
                    return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
