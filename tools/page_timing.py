"""Cold and warm AppTest run times of each page, as JSON; run by `python -m dashboard bench`.

Lives outside dashboard/ because it drives Streamlit, which the core never imports.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.bench import median_ms

ROOT = Path(__file__).resolve().parents[1]


def main(url: str, runs: int, pages: list[str]) -> dict[str, tuple[float, float]]:
    os.environ["DASHBOARD_DATABASE_URL"] = url
    out: dict[str, tuple[float, float]] = {}
    for page in pages:
        cold, warm = [], []
        for _ in range(runs):
            st.cache_data.clear()
            at = AppTest.from_file(str(ROOT / page), default_timeout=120)
            started = time.perf_counter()
            at.run()
            cold.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            at.run()
            warm.append((time.perf_counter() - started) * 1000)
        out[page] = (statistics.median(cold), statistics.median(warm))
    empty = ROOT / "artifacts" / "empty_page.py"
    empty.parent.mkdir(exist_ok=True)
    empty.write_text("import streamlit as st\n\nst.write('')\n")
    at = AppTest.from_file(str(empty))
    out["(empty page)"] = (median_ms(at.run, runs), median_ms(at.run, runs))
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])))
