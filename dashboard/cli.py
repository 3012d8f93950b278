"""Command line: python -m dashboard <command>."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from dashboard import config, startup
from dashboard.data import migrate


def _progress(fraction: float, message: str) -> None:
    print(f"\r[{fraction:6.1%}] {message:<60}", end="", file=sys.stderr, flush=True)
    if fraction >= 1.0:
        print(file=sys.stderr)


def cmd_demo(args: argparse.Namespace) -> int:
    from dashboard.tools import demo

    started = time.perf_counter()
    network = demo.generate(scale=args.scale, seed=args.seed)
    paths = demo.write_csv(network, Path(args.out))
    for name, path in paths.items():
        print(f"{name:<13} {len(network.tables()[name]):>10,} rows  {path}")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from dashboard.data import db

    engine = db.create_engine(args.database_url)
    db.check_connection(engine)
    if args.action == "upgrade":
        migrate.upgrade(engine)
        print(f"schema up to date at {engine.url.render_as_string(hide_password=True)}")
    elif args.action == "prepare":
        startup.prepare(engine, progress=_progress)
        print("database ready")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description="Impact dashboard tools.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="write the synthetic demo network's contract tables as CSV")
    p.add_argument("--out", required=True, help="folder for the CSV files")
    p.add_argument("--scale", type=float, default=1.0, help="network size; 1 reproduces the published figures")
    p.add_argument("--seed", type=int, default=2024)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("db", help="database schema")
    p.add_argument(
        "action",
        choices=["upgrade", "prepare"],
        help="upgrade: run migrations; prepare: upgrade and build the demo data if empty",
    )
    p.add_argument(
        "--database-url", default=None, help="defaults to DASHBOARD_DATABASE_URL or the embedded SQLite file"
    )
    p.set_defaults(func=cmd_db)

    from dashboard import disclosure_audit
    from dashboard.briefs import command as brief_command
    from dashboard.data import ingest, users
    from dashboard.tools import bench, serve

    users.register_cli(sub)
    ingest.register_cli(sub)
    disclosure_audit.register_cli(sub)
    brief_command.register_cli(sub)

    p = sub.add_parser("bench", help="measure queries and pages at one or more scales; writes docs/benchmarks.md")
    bench.add_arguments(p)
    p.set_defaults(func=bench.run)

    p = sub.add_parser("serve", help="several app replicas behind nginx with sticky sessions (a production host)")
    serve.add_arguments(p)
    p.set_defaults(func=serve.run)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except config.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
