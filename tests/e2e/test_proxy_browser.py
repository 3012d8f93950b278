"""Two replicas behind nginx, started as the README's deployment section says (`python -m dashboard serve`), driven
from Chromium: a user works through the proxy, the replica holding the session is stopped, and the next request
lands on the other with the user still signed in and the view the URL names restored."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from dashboard.data import migrate, users
from dashboard.tools import serve
from tests.conftest import POSTGRES_URL, fill, postgres_or_skip, required
from tests.e2e.conftest import ARTIFACTS, _free_port, submit_sign_in, wait_ready

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 90_000
ACCOUNT = ("proxy-board", "a long board password")


def _nginx_or_skip() -> None:
    if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
        return
    if required("nginx"):
        pytest.fail("nginx is required but not installed (Debian: apt-get install nginx)")
    pytest.skip("no nginx; install Debian's nginx to run the proxy test")


@pytest.fixture(scope="module")
def proxy(small_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(URL of nginx, the run folder): `python -m dashboard serve` with two replicas on one PostgreSQL database."""
    _nginx_or_skip()
    postgres_or_skip()
    with migrate.throwaway_postgres(POSTGRES_URL, "dashboard_proxy") as engine:
        fill(engine, small_csv)
        users.add_user(engine, ACCOUNT[0], "Proxy Board", "proxy-board@example.org", ACCOUNT[1], "board")
        run_dir = tmp_path_factory.mktemp("serve")
        port, replica_ports = _free_port(), [_free_port(), _free_port()]
        env = {**os.environ, "DASHBOARD_DATABASE_URL": engine.url.render_as_string(hide_password=False),
               "DASHBOARD_COOKIE_KEY": "a-proxy-test-cookie-key-long-enough-for-hs256", "DASHBOARD_TESTING": "1"}  # fmt: skip
        command = [sys.executable, "-m", "dashboard", "serve", "--workers", "2", "--port", str(port),
                   "--replica-ports", ",".join(map(str, replica_ports)), "--run-dir", str(run_dir)]  # fmt: skip
        log = (run_dir / "serve.log").open("w")
        served = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while "serving on" not in (run_dir / "serve.log").read_text():
                assert served.poll() is None, (run_dir / "serve.log").read_text()
                assert time.monotonic() < deadline, "serve did not start within 180 s"
                time.sleep(0.5)
            yield url, run_dir
        finally:
            served.send_signal(signal.SIGTERM)
            served.wait(timeout=60)
    for listening in (port, *replica_ports):  # nothing is left listening once serve has stopped
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{listening}/_stcore/health", timeout=2)


def _replica_serving(page: Page, run_dir: Path) -> str:
    """The replica (127.0.0.1:port) that nginx sends this browser's requests to, from the proxy's access log."""
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == serve.ROUTE_COOKIE)
    probe = f"/_stcore/health?probe={time.monotonic_ns()}"
    assert page.evaluate("path => fetch(path).then(r => r.status)", probe) == 200
    for _ in range(50):  # nginx writes the line as the response ends
        lines = [line for line in (run_dir / "access.log").read_text().splitlines() if probe in line]
        if lines:
            assert f"replica_cookie={cookie}" in lines[-1]
            return re.search(r"upstream=(\S+)", lines[-1]).group(1)
        time.sleep(0.1)
    raise AssertionError(f"no access log line for {probe}")


def _heading(page: Page, year: str):
    return page.get_by_role("heading", name=re.compile(rf", {year}: tier 2 and tier 3 by school$")).first


def test_the_readme_shows_the_nginx_config_serve_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"`(python -m dashboard serve [^`]*--print-nginx-config)`", readme)
    assert command, "the README's deployment section names the command that prints the config"
    shown = re.search(r"```nginx\n(.*?)```", readme, re.S)
    assert shown, "the README shows the config in an nginx code block"
    printed = subprocess.run([sys.executable, "-m", *command.group(1).split()[2:]], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
    assert shown.group(1) == printed


def test_a_user_keeps_working_through_the_proxy_when_the_replica_holding_the_session_stops(
    proxy: tuple[str, Path], browser, small_csv: Path
) -> None:
    url, run_dir = proxy
    affiliate = pd.read_csv(small_csv / "affiliates.csv").sort_values("affiliate_id").iloc[0]
    years = sorted(pd.read_csv(small_csv / "school_years.csv", dtype={"school_year": str})["school_year"].unique())
    older = years[-2]
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.set_default_timeout(TIMEOUT)
    sockets: list = []
    page.on("websocket", lambda socket: sockets.append(socket))
    page.goto(url)
    submit_sign_in(page, *ACCOUNT)
    page.wait_for_function("() => document.cookie.includes('impact_dashboard=')", timeout=30_000)

    # Work through the proxy: a drill to one affiliate's schools by URL, then an older year from the sidebar.
    page.goto(f"{url}/outcomes?state={affiliate['state']}&affiliate={affiliate['affiliate_id']}")
    wait_ready(page, TIMEOUT)
    expect(_heading(page, years[-1])).to_be_visible(timeout=TIMEOUT)
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="School year").click()
    page.get_by_role("option", name=older, exact=True).click()
    page.wait_for_url(re.compile(rf"year={older}"), timeout=TIMEOUT)
    expect(_heading(page, older)).to_be_visible(timeout=TIMEOUT)
    view = page.url
    holding = _replica_serving(page, run_dir)
    assert _replica_serving(page, run_dir) == holding  # sticky: the same browser, the same replica

    opened = len(sockets)
    port = holding.rsplit(":", 1)[1]
    os.kill(int((run_dir / f"replica-{port}.pid").read_text()), signal.SIGTERM)
    deadline = time.monotonic() + 30
    while f"replica {port} exited" not in (run_dir / "serve.log").read_text():
        assert time.monotonic() < deadline, "the replica did not stop"
        time.sleep(0.2)

    # The browser reconnects by itself, on a new websocket; the proxy sends it to the other replica.
    deadline = time.monotonic() + 60
    while len(sockets) == opened:
        assert time.monotonic() < deadline, "the browser did not open a new websocket within 60 s"
        page.wait_for_timeout(200)
    wait_ready(page, TIMEOUT)
    expect(_heading(page, older)).to_be_visible(timeout=TIMEOUT)  # the view, restored from the URL
    assert page.get_by_role("textbox", name="Username").count() == 0  # still signed in: the cookie
    assert page.url == view
    assert _replica_serving(page, run_dir) != holding
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "proxy-after-failover.png"), full_page=True)
    page.context.close()
