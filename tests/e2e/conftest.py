"""A real `streamlit run app.py` on a free port, on a fresh demo database, and headless Chromium."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import required

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = os.environ.get("BROWSER_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def e2e_data_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A data folder holding the demo database at its default size, as `make run` prepares it (`python -m dashboard
    db prepare`). It is built once per run and each test worker gets its own copy, which its app may write to."""
    folder = tmp_path_factory.mktemp("e2e_data")
    base = tmp_path_factory.getbasetemp()
    built = (base if worker_id == "master" else base.parent) / "e2e_demo"
    built.mkdir(exist_ok=True)
    with (built / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits here while the first builds
        if not (built / "dashboard.sqlite3").exists():
            env = {**os.environ, "DASHBOARD_DATA_DIR": str(built / "building")}
            env.pop("DASHBOARD_DATABASE_URL", None)
            done = subprocess.run([sys.executable, "-m", "dashboard", "db", "prepare"], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=600)  # fmt: skip
            if done.returncode:
                pytest.fail(f"the demo database was not built: {done.stderr[-2000:]}")
            (built / "building" / "dashboard.sqlite3").rename(built / "dashboard.sqlite3")
    shutil.copyfile(built / "dashboard.sqlite3", folder / "dashboard.sqlite3")
    return folder


def start_app(
    data_dir: Path,
    log_dir: Path,
    settings: dict[str, str] | None = None,
    port: int | None = None,
    arguments: list[str] | None = None,
):
    """`streamlit run app.py` on a free port (or `port`) on this data folder, with `settings` added to its
    environment (DASHBOARD_DATABASE_URL among them points it at another database) and `arguments` to its command
    line; returns (process, base URL) once healthy."""
    port = port or _free_port()
    env = {**os.environ, "DASHBOARD_DATA_DIR": str(data_dir)}
    env.pop("DASHBOARD_DATABASE_URL", None)
    env.update(settings or {})
    log = (log_dir / f"streamlit-{port}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         *(arguments or [])],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail("streamlit did not start within 60 s")


@pytest.fixture(scope="session")
def server(e2e_data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Base URL of the app, started on the prepared demo database."""
    proc, url = start_app(e2e_data_dir, tmp_path_factory.mktemp("e2e_log"))
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="session")
def base_url(request: pytest.FixtureRequest) -> str:
    """The app under test; DASHBOARD_E2E_URL points at an already running one instead of starting app.py."""
    return os.environ.get("DASHBOARD_E2E_URL") or request.getfixturevalue("server")


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through Playwright; never a downloaded browser."""
    if not Path(CHROMIUM).exists():
        if required("browser"):
            pytest.fail(f"Chromium is required but not found at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM}; install Debian's chromium to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu",
                                                              "--disable-background-networking"])  # fmt: skip
        yield b
        b.close()


def wait_ready(page, timeout_ms: int = 120_000) -> None:
    """Streamlit is ready when connected, not running, and no skeleton is left."""
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid=stApp]');
            return app && app.dataset.testConnectionState === 'CONNECTED'
                && app.dataset.testScriptState === 'notRunning'
                && !document.querySelector('[data-testid=stSkeleton]');
        }""",
        timeout=timeout_ms,
    )


def submit_sign_in(page, username: str, password: str, attempts: int = 3) -> None:
    """Fill and submit the sign-in form until the Overview shows.

    Right after a page loads, the authenticator's cookie component reports in and triggers a rerun;
    a click that lands during that rerun is dropped (the form comes back filled, with no message).
    A person clicks again; so does this, at most `attempts` times, and fails if none gets through.
    """
    for attempt in range(attempts):
        wait_ready(page)
        page.get_by_role("textbox", name="Username").fill(username)
        page.get_by_role("textbox", name="Password").fill(password)
        page.get_by_role("button", name="Sign in", exact=True).click()
        try:
            page.get_by_role("heading", name="Impact overview").first.wait_for(timeout=30_000)
            break
        except Exception:
            if attempt == attempts - 1:
                raise
            if page.get_by_role("textbox", name="Username").count() == 0:
                # Signed in, but the Overview is still being drawn (a cold start on a busy machine): wait on.
                page.get_by_role("heading", name="Impact overview").first.wait_for(timeout=120_000)
                break
    wait_ready(page)


def sign_in(page, username: str = "admin", password: str = "demo-admin-pass") -> None:
    """Sign in with a demo account (the demo database creates them on first start)."""
    wait_ready(page, 300_000)  # a fresh server's first page opens its engine (upgrade, caches) on a busy machine
    page.get_by_role("textbox", name="Username").wait_for(timeout=120_000)
    submit_sign_in(page, username, password)
