"""The simultaneous-users section of the benchmark: its figures from user_load's JSON, and its place in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.tools import bench_users


def _round(users: int, p95: float, cpu_s: float, views: int) -> dict:
    action = {"median_s": p95 / 2, "p95_s": p95, "n": users, "errors": 0, "first_error": ""}
    return {"users": users, "wall_s": 10.0, "actions": {"sign-in to a settled Overview": action}, "page_views": views,
            "server_cpu_s": cpu_s, "client_cpu_s": 4.0, "server_rss_bytes": 400 * 2**20,
            "server_rss_growth_bytes": users * 3 * 2**20}  # fmt: skip


def test_the_section_reports_each_target_from_the_measured_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    results = {
        0: {"workers": 0, "rounds": [_round(1, 1.0, 1.2, 12), _round(25, 4.0, 30.0, 300)]},
        2: {"workers": 2, "rounds": [_round(1, 1.0, 1.2, 12), _round(25, 1.5, 24.0, 300)]},
    }
    monkeypatch.setattr(bench_users, "measure", lambda url, counts, workers: results[workers])
    text = bench_users.section("sqlite://", 1.0, [1, 25], 2)
    assert "- one process, 25 users: worst p95 4.00 s, not met (< 3 s at 25 users)" in text
    assert "- behind nginx, 25 users: worst p95 1.50 s, met (< 3 s at 25 users)" in text
    assert f"server CPU {1000 * 30.0 / 300:.0f} ms per page view, met" in text  # 100 ms
    assert "worst p95 at 25 users is 1.5x that at 1, met (<= 2x)" in text
    assert "| server memory growth per session (MB) | 3.0 | 3.0 |" in text


def test_a_failed_measurement_says_so_instead_of_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_users, "measure", lambda url, counts, workers: {"error": "no Chromium at /x"})
    text = bench_users.section("sqlite://", 1.0, [1], 2)
    assert text.count("not measured: no Chromium at /x") == 2 and "met" not in text


def test_writing_the_section_replaces_the_old_one_and_keeps_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n\n## Scale 1\n\nqueries\n\n## Simultaneous users\n\nold\n\n### sub\n\nold too\n")
    bench_users.write(out, "## Simultaneous users\n\nnew\n")
    assert out.read_text() == "# Benchmarks\n\n## Scale 1\n\nqueries\n\n## Simultaneous users\n\nnew\n\n"
    bench_users.write(tmp_path / "fresh.md", "## Simultaneous users\n\nfirst\n")
    assert (tmp_path / "fresh.md").read_text() == "# Benchmarks\n\n## Simultaneous users\n\nfirst\n"
