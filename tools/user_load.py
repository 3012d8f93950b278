"""Simultaneous users: N Chromium contexts at once, each signing in as the demo board member and walking every page of
the board's role, a filter change and a drill, against one `streamlit run` or against `python -m dashboard serve`
(replicas behind nginx). JSON on the last stdout line; run by the benchmark (`python -m dashboard bench --users`).

Per action it reports the median and p95 seconds to a settled page and the errors; for the server, its CPU seconds
per page view and its resident memory per session; for the client (this process and its Chromium), its CPU seconds,
so a saturated client can be told from a slow server.

    python -m tools.user_load <database url> --users 1 5 10 [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dashboard import access
from dashboard.data import users
from tools.app_memory import _free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("BROWSER_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ACCOUNT = next(a for a in users.DEMO_ACCOUNTS if a.role == "board")
TIMEOUT_MS = 120_000
TICKS = os.sysconf("SC_CLK_TCK")
READY = """() => {
    const app = document.querySelector('[data-testid=stApp]');
    return app && app.dataset.testConnectionState === 'CONNECTED'
        && app.dataset.testScriptState === 'notRunning'
        && !document.querySelector('[data-testid=stSkeleton]')
        && !document.querySelector('[data-stale="true"]');
}"""


def _progress(message: str) -> None:
    print(f"[user_load {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return [int(c) for t in tasks for c in (t / "children").read_text().split()]
    except OSError:
        return []


def _tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(_children(p))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds the processes have used so far (from /proc/<pid>/stat)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def _client_cpu() -> float:
    """CPU seconds of this process and of its children that have exited (Playwright's driver and its Chromium,
    which are gone by the end of each round)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


WATCH = """() => {
    window.__rerunSeen = false;
    const app = document.querySelector('[data-testid=stApp]');
    // Each record keeps the value it replaced: a rerun quick enough to start and end between two callbacks is
    // still seen (reading the attribute in the callback would find it ended, and wait for a rerun forever).
    new MutationObserver(records => {
        if (records.some(r => r.oldValue === 'running') || app.dataset.testScriptState === 'running') {
            window.__rerunSeen = true;
        }
    }).observe(app, {attributes: true, attributeOldValue: true, attributeFilter: ['data-test-script-state']});
}"""


async def _settled(page, started: float, clicked: bool) -> float:
    """Seconds from `started` until the page the action asked for has finished drawing. After a click, that is the
    end of the rerun the click began (watched from before the click), not the settled page it was clicked on."""
    done = f"() => ({'window.__rerunSeen' if clicked else 'true'}) && ({READY})()"
    await page.wait_for_function(done, timeout=TIMEOUT_MS)
    return time.perf_counter() - started


async def _user(browser, base_url: str, index: int) -> list[tuple[str, float | None, str]]:
    """One person's walk: (action, seconds or None, error or '') per action."""
    done: list[tuple[str, float | None, str]] = []
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)

    async def timed(name: str, action, clicked: bool = False) -> None:
        try:
            if clicked:
                await page.evaluate(WATCH)
            started = time.perf_counter()
            await action()
            seconds = await _settled(page, started, clicked)
            if await page.locator("[data-testid=stException]").count():
                done.append((name, seconds, "exception shown"))
            else:
                done.append((name, seconds, ""))
        except Exception as exc:
            done.append((name, None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"))

    async def sign_in() -> None:
        await page.goto(base_url)
        for _ in range(5):  # a click during the cookie component's first rerun is dropped; a person clicks again
            await page.wait_for_function(READY, timeout=TIMEOUT_MS)
            await page.get_by_role("textbox", name="Username").fill(ACCOUNT.username)
            await page.get_by_role("textbox", name="Password").fill(ACCOUNT.password)
            await page.get_by_role("button", name="Sign in", exact=True).click()
            try:
                await page.locator("[data-testid=stSidebarNav]").wait_for(timeout=30_000)
                return
            except Exception:
                if not await page.get_by_role("textbox", name="Username").count():
                    await page.locator("[data-testid=stSidebarNav]").wait_for(timeout=TIMEOUT_MS)
                    return
        raise RuntimeError("the form never let the user in")

    await timed("sign-in to a settled Overview", sign_in)
    for spec in access.allowed(ACCOUNT.role):
        await timed(f"open {spec.title} by URL", lambda spec=spec: page.goto(f"{base_url}/{spec.url_path}"))

    async def filter_change() -> None:
        await page.locator('[data-testid="stSidebar"]').get_by_text("Title I only", exact=True).click()

    async def drill() -> None:
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        # The picker sits below the chart, at the window's lower edge: a click that scrolls the page to reach it
        # opens the list and the scroll closes it again, so it is scrolled into view first, as a person would.
        # Should the list still not show, a person opens it again; so does this, at most three times.
        picker = page.locator('[data-testid="stSelectbox"]').filter(has_text="Or pick a state")
        for attempt in range(3):
            await picker.scroll_into_view_if_needed()
            await page.wait_for_timeout(200)  # let the scroll end before the click
            await picker.click()
            try:
                await page.get_by_role("option").first.wait_for(timeout=5_000)
            except PlaywrightTimeout:
                if attempt == 2:
                    raise
                continue
            await page.evaluate(WATCH)  # the rerun to wait for is the option's, not the page's own
            await page.get_by_role("option").first.click()
            return

    await timed("open Overview by URL", lambda: page.goto(base_url))
    await timed("filter change (Title I only)", filter_change, clicked=True)
    await timed("open Outcomes by URL", lambda: page.goto(f"{base_url}/outcomes"))
    await timed("drill (Outcomes: pick a state)", drill, clicked=True)
    await context.close()
    return done


async def _round(base_url: str, n: int) -> list[list[tuple[str, float | None, str]]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            return await asyncio.gather(*(_user(browser, base_url, i) for i in range(n)))
        finally:
            await browser.close()


def _summary(walks: list[list[tuple[str, float | None, str]]]) -> dict[str, dict[str, Any]]:
    by_action: dict[str, dict[str, Any]] = {}
    for walk in walks:
        for name, seconds, error in walk:
            row = by_action.setdefault(name, {"times": [], "errors": []})
            if seconds is not None:
                row["times"].append(seconds)
            if error:
                row["errors"].append(error)
    out = {}
    for name, row in by_action.items():
        times = sorted(row["times"])
        p95 = times[min(len(times) - 1, max(0, round(0.95 * len(times)) - 1))] if times else None
        out[name] = {"median_s": statistics.median(times) if times else None, "p95_s": p95, "n": len(times),
                     "errors": len(row["errors"]), "first_error": row["errors"][0] if row["errors"] else ""}  # fmt: skip
    return out


def _start(url: str, workers: int, tmp: Path) -> tuple[subprocess.Popen, str, Callable[[], list[int]]]:
    """Start the server; returns (process, base URL, a function giving the server's pids)."""
    env = {**os.environ, "DASHBOARD_DATABASE_URL": url, "DASHBOARD_DATA_DIR": str(tmp)}
    log = (tmp / "server.log").open("w")
    port = _free_port()
    if workers:
        ports = ",".join(str(_free_port()) for _ in range(workers))
        command = [sys.executable, "-m", "dashboard", "serve", "--workers", str(workers), "--port", str(port),
                   "--replica-ports", ports, "--run-dir", str(tmp / "serve")]  # fmt: skip
    else:
        command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                   "--server.headless", "true", "--server.fileWatcherType", "none", "--server.runOnSave", "false"]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while True:
        try:
            urllib.request.urlopen(f"{base}/_stcore/health", timeout=2)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError(f"the server did not start: {(tmp / 'server.log').read_text()[-500:]}") from None
            time.sleep(0.5)

    def server_pids() -> list[int]:
        return [p for p in _tree(proc.pid) if p != proc.pid] if workers else [proc.pid]

    return proc, base, server_pids


def main(url: str, counts: list[int], workers: int) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        return {"error": f"no Chromium at {CHROMIUM}"}
    result: dict[str, Any] = {"workers": workers, "rounds": []}
    with tempfile.TemporaryDirectory(prefix="user_load_") as folder:
        tmp = Path(folder)
        proc, base, server_pids = _start(url, workers, tmp)
        try:
            _progress(f"server up at {base} ({workers or 'one'} {'replicas behind nginx' if workers else 'process'})")
            asyncio.run(_round(base, 1))  # warm-up, not counted: the first views of a fresh process fill its caches
            for n in counts:
                _progress(f"{n} simultaneous user(s)")
                pids = server_pids()
                rss_before, cpu_before = rss_bytes(pids), cpu_seconds(pids)
                client_before = _client_cpu()
                started = time.perf_counter()
                walks = asyncio.run(_round(base, n))
                wall = time.perf_counter() - started
                pids = server_pids()
                views = sum(1 for walk in walks for _, s, _ in walk if s is not None)
                result["rounds"].append({
                    "users": n, "wall_s": wall, "actions": _summary(walks), "page_views": views,
                    "server_cpu_s": cpu_seconds(pids) - cpu_before,
                    "client_cpu_s": _client_cpu() - client_before,
                    "server_rss_bytes": rss_bytes(pids), "server_rss_growth_bytes": rss_bytes(pids) - rss_before,
                })  # fmt: skip
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--users", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--workers", type=int, default=0, help="0: one streamlit process; N: serve with N replicas")
    args = parser.parse_args()
    print(json.dumps(main(args.url, args.users, args.workers)))
