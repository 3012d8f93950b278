"""`python -m dashboard serve`: several app replicas behind nginx with sticky sessions, for a production host.

Streamlit keeps a session's state, its uploads and its downloads in the process that serves its websocket, so every
request of one browser must reach the same replica; nginx pins each browser to one by a cookie of its own. What one
replica changes (a load, an undo, a sign-out, a lockout) the others read from the database at their next rerun.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from dashboard import startup
from dashboard.data import db

ROOT = Path(__file__).resolve().parents[2]
ROUTE_COOKIE = "dashboard_replica"
DEFAULT_PORT = 8080
FIRST_REPLICA_PORT = 8501
# Streamlit's server.maxUploadSize in .streamlit/config.toml, in MB: the proxy must not refuse what the app accepts.
MAX_UPLOAD_MB = 200
# What the command line passes each replica beside .streamlit/config.toml: a production replica serves a fixed
# release, so it watches no files (the watchers cost a quarter of a busy process's CPU) and never reruns on save.
REPLICA_SETTINGS = ("--server.headless", "true", "--server.fileWatcherType", "none", "--server.runOnSave", "false")


def nginx_config(listen: str, replica_ports: Sequence[int], run_dir: str | Path) -> str:
    """The nginx configuration `serve` runs: `listen` (host:port) in front of the replicas on 127.0.0.1."""
    run = Path(run_dir)
    servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;" for port in replica_ports)
    return f"""\
# Written by `python -m dashboard serve`; README, "Deployment", explains each part.
worker_processes auto;
pid {run}/nginx.pid;
error_log {run}/error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    log_format dashboard '$remote_addr [$time_local] "$request" $status upstream=$upstream_addr '
                         'replica_cookie=$dashboard_replica time=$request_time';
    access_log {run}/access.log dashboard;
    client_body_temp_path {run}/client_body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;

    # Streamlit talks over a websocket at /_stcore/stream.
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ""      close;
    }}

    # Sticky sessions: a browser without the {ROUTE_COOKIE} cookie gets one (a random request id) and keeps it,
    # and the consistent hash of it picks its replica. If that replica is down, nginx hashes on to a live one.
    map $cookie_{ROUTE_COOKIE} $dashboard_replica {{
        ""      $request_id;
        default $cookie_{ROUTE_COOKIE};
    }}
    map $cookie_{ROUTE_COOKIE} $dashboard_replica_set_cookie {{
        ""      "{ROUTE_COOKIE}=$request_id; Path=/; HttpOnly; SameSite=Lax";
        default "";
    }}

    upstream dashboard_replicas {{
        hash $dashboard_replica consistent;
{servers}
    }}

    server {{
        listen {listen};
        client_max_body_size {MAX_UPLOAD_MB}m;

        location / {{
            proxy_pass http://dashboard_replicas;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # A dashboard left open through a meeting keeps its websocket.
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            # Uploads and large responses stream through instead of being spooled to disk by the proxy.
            proxy_request_buffering off;
            proxy_max_temp_file_size 0;
            add_header Set-Cookie $dashboard_replica_set_cookie always;
        }}
    }}
}}
"""


def replica_command(port: int) -> list[str]:
    """The `streamlit run` of one replica, listening on 127.0.0.1 only: browsers reach it through the proxy."""
    return [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
            "--server.address", "127.0.0.1", *REPLICA_SETTINGS]  # fmt: skip


def _nginx() -> str:
    """The nginx binary (Debian puts it in /usr/sbin, outside a normal user's PATH)."""
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if found is None:
        raise SystemExit("error: nginx is not installed; on Debian or Ubuntu: apt-get install nginx")
    return found


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def _wait_healthy(url: str, what: str, timeout_s: float, processes: Sequence[subprocess.Popen]) -> None:
    deadline = time.monotonic() + timeout_s
    while not _healthy(url):
        if any(p.poll() is not None for p in processes):
            raise SystemExit(f"error: {what} exited while starting; see its log in the run folder")
        if time.monotonic() > deadline:
            raise SystemExit(f"error: {what} did not answer at {url} within {timeout_s:.0f} s")
        time.sleep(0.5)


def _stop(processes: Sequence[subprocess.Popen], timeout_s: float = 20) -> None:
    for p in processes:
        if p.poll() is None:
            p.terminate()
    for p in processes:
        try:
            p.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            p.kill()


def run(args: argparse.Namespace) -> int:
    """Start the replicas, then nginx in front of them; serve until stopped (Ctrl-C or SIGTERM stops them all)."""
    ports = [int(p) for p in args.replica_ports.split(",")] if args.replica_ports else [
        FIRST_REPLICA_PORT + i for i in range(args.workers)
    ]  # fmt: skip
    listen = f"{args.host}:{args.port}"
    if args.print_nginx_config:
        print(nginx_config(listen, ports, Path(args.run_dir or "/run/dashboard").absolute()), end="")
        return 0
    nginx = _nginx()
    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix="dashboard-serve-")).absolute()
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "nginx.conf").write_text(nginx_config(listen, ports, run_dir))

    engine = db.create_engine()  # once, before any replica: two replicas must not both build the demo database
    startup.prepare(engine)
    if engine.dialect.name == "sqlite":
        print("note: replicas share a SQLite file here; a production host uses PostgreSQL", file=sys.stderr)
    engine.dispose()

    stopping = False

    def stop(_signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    replicas: dict[int, subprocess.Popen] = {}
    for port in ports:
        log = (run_dir / f"replica-{port}.log").open("w")
        replicas[port] = subprocess.Popen(replica_command(port), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        (run_dir / f"replica-{port}.pid").write_text(f"{replicas[port].pid}\n")
    processes: list[subprocess.Popen] = list(replicas.values())
    try:
        for port, proc in replicas.items():
            _wait_healthy(f"http://127.0.0.1:{port}", f"replica {port}", args.start_timeout, [proc])
        conf = str(run_dir / "nginx.conf")
        checked = subprocess.run([nginx, "-t", "-q", "-p", str(run_dir), "-e", str(run_dir / "error.log"),
                                  "-c", conf], capture_output=True, text=True)  # fmt: skip
        if checked.returncode != 0:
            raise SystemExit(f"error: nginx refused the configuration:\n{checked.stderr}")
        proxy = subprocess.Popen([nginx, "-p", str(run_dir), "-e", str(run_dir / "error.log"), "-c", conf,
                                  "-g", "daemon off;"])  # fmt: skip
        processes.insert(0, proxy)  # stopped first, so no browser is sent to a replica that is going away
        url = f"http://{listen}"
        _wait_healthy(url, "nginx", 30, [proxy])
        print(f"serving on {url}: {len(ports)} replicas on 127.0.0.1 ports {', '.join(map(str, ports))}; "
              f"logs and nginx.conf in {run_dir}", flush=True)  # fmt: skip
        gone: set[int] = set()
        while not stopping:
            if proxy.poll() is not None:
                print(f"error: nginx exited with {proxy.returncode}; see {run_dir / 'error.log'}", file=sys.stderr)
                return 1
            for port, proc in replicas.items():
                if port not in gone and proc.poll() is not None:
                    gone.add(port)  # not restarted here: the proxy sends its browsers to the others meanwhile
                    print(f"replica {port} exited with {proc.returncode}; the others carry on", file=sys.stderr)
            if len(gone) == len(replicas):
                print("error: every replica has exited", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        _stop(processes)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The serve command's options."""
    parser.add_argument("--workers", type=int, default=max(2, os.cpu_count() or 2),
                        help="app replicas to start (default: one per core, at least two)")  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="where nginx listens (0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="the port browsers use")
    parser.add_argument("--replica-ports", default=None,
                        help=f"comma-separated replica ports (default: {FIRST_REPLICA_PORT} and up, one per worker)")  # fmt: skip
    parser.add_argument(
        "--run-dir", default=None, help="folder for nginx.conf, pid files and logs (default: a temp one)"
    )
    parser.add_argument("--start-timeout", type=float, default=120, help="seconds each replica may take to start")
    parser.add_argument("--print-nginx-config", action="store_true",
                        help="print the nginx configuration these options give, and exit")  # fmt: skip
