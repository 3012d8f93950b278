"""Simultaneous users for the benchmark: tools/user_load in a subprocess (it drives Chromium, and dashboard/ never
imports Streamlit or Playwright), once against one `streamlit run` and once against `serve`'s replicas behind nginx,
on a demo database the benchmark builds. Writes its own section of docs/benchmarks.md and leaves the others as they are."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from dashboard import config

ROOT = config.ROOT
HEADING = "## Simultaneous users"
P95_S = 3.0  # 25 users, 1x: p95 under 3 s for every action
PROXY_RATIO = 2.0  # with the proxy, p95 at the most users no more than 2x the p95 at 1 user
CPU_MS_PER_VIEW = 150.0


def measure(url: str, counts: list[int], workers: int) -> dict[str, Any]:
    """tools/user_load's JSON for one server arrangement (workers 0: a single process)."""
    done = subprocess.run([sys.executable, "-m", "tools.user_load", url, "--users", *map(str, counts),
                           "--workers", str(workers)], cwd=ROOT, stdout=subprocess.PIPE, text=True)  # fmt: skip
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"error": f"tools/user_load exited with {done.returncode}; see stderr"}
    return json.loads(lines[-1])


def _verdict(ok: bool, target: str) -> str:
    return f"{'met' if ok else 'not met'} ({target})"


def _table(result: dict[str, Any]) -> list[str]:
    if result.get("error"):
        return [f"not measured: {result['error']}"]
    rounds = result["rounds"]
    lines = ["| action | " + " | ".join(f"{r['users']} users: median / p95 (s)" for r in rounds) + " |",
             "| --- |" + " ---: |" * len(rounds)]  # fmt: skip
    for action in rounds[0]["actions"]:
        cells = []
        for r in rounds:
            a = r["actions"].get(action)
            if a is None or a["median_s"] is None:
                cells.append("–")
                continue
            errors = f", {a['errors']} errors" if a["errors"] else ""
            cells.append(f"{a['median_s']:.2f} / {a['p95_s']:.2f}{errors}")
        lines.append(f"| {action} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| per round | " + " | ".join(f"{r['users']} users" for r in rounds) + " |")
    lines.append("| --- |" + " ---: |" * len(rounds))
    rows = {
        "page views settled": lambda r: f"{r['page_views']}",
        "errors": lambda r: f"{sum(a['errors'] for a in r['actions'].values())}",
        "wall time (s)": lambda r: f"{r['wall_s']:.1f}",
        "server CPU per page view (ms)": lambda r: f"{1000 * r['server_cpu_s'] / max(1, r['page_views']):.0f}",
        "client CPU, Playwright and Chromium (s)": lambda r: f"{r['client_cpu_s']:.1f}",
        "server resident memory at the end (MB)": lambda r: f"{r['server_rss_bytes'] / 2**20:.0f}",
        "server memory growth per session (MB)": lambda r: f"{r['server_rss_growth_bytes'] / 2**20 / r['users']:.1f}",
    }
    for name, cell in rows.items():
        lines.append(f"| {name} | " + " | ".join(cell(r) for r in rounds) + " |")
    errors = [a["first_error"] for r in rounds for a in r["actions"].values() if a["first_error"]]
    if errors:
        lines += ["", f"First error: {errors[0]}"]
    return lines


def _worst_p95(round_: dict[str, Any]) -> float | None:
    values = [a["p95_s"] for a in round_["actions"].values() if a["p95_s"] is not None]
    return max(values) if values else None


def section(url: str, scale: float, counts: list[int], workers: int) -> str:
    """Measure both arrangements on the demo database at `url` (built at `scale`); return the markdown section."""
    single = measure(url, counts, 0)
    proxied = measure(url, counts, workers) if workers else {"error": "--workers 0"}
    lines = [HEADING, "",
             f"Scale {scale:g}, SQLite, the demo board member signing in and walking every page of the role, a filter"
             " change and a drill, all users at once in one Chromium (a context each) on the same machine as the"
             " server, after one warm-up walk. Times are from the action to a settled page (no rerun running,"
             " nothing stale).", "", "### One streamlit process", "", *_table(single), "",
             f"### {workers} replicas behind nginx (`python -m dashboard serve --workers {workers}`)", "",
             *_table(proxied), ""]  # fmt: skip
    lines += ["### Targets", ""]
    for name, result in (("one process", single), ("behind nginx", proxied)):
        if result.get("error"):
            continue
        top = result["rounds"][-1]
        worst = _worst_p95(top)
        if worst is not None:
            lines.append(f"- {name}, {top['users']} users: worst p95 {worst:.2f} s, "
                         + _verdict(worst < P95_S and top["users"] >= 25, f"< {P95_S:g} s at 25 users"))  # fmt: skip
        cpu = 1000 * top["server_cpu_s"] / max(1, top["page_views"])
        lines.append(f"- {name}: server CPU {cpu:.0f} ms per page view, "
                     + _verdict(cpu < CPU_MS_PER_VIEW, f"< {CPU_MS_PER_VIEW:g} ms"))  # fmt: skip
    if not proxied.get("error") and len(proxied["rounds"]) > 1:
        first, last = _worst_p95(proxied["rounds"][0]), _worst_p95(proxied["rounds"][-1])
        if first and last:
            lines.append(f"- behind nginx: worst p95 at {proxied['rounds'][-1]['users']} users is {last / first:.1f}x "
                         f"that at {proxied['rounds'][0]['users']}, "
                         + _verdict(last / first <= PROXY_RATIO, f"<= {PROXY_RATIO:g}x"))  # fmt: skip
    return "\n".join(lines) + "\n"


def write(out: Path, text: str) -> None:
    """Put the section into `out`, in place of an earlier one, keeping every other section."""
    old = out.read_text() if out.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## (?!#)|\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text + "\n", old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(new)
