"""The audited CSV download: made only when clicked, audited as it is made, and never rerunning the page."""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import streamlit as st

from components import filters, table
from dashboard.data import db, migrate, users


class _FakeStreamlit:
    """Just enough of `st` for download_button: session state, and the call it makes."""

    def __init__(self, engine, username: str) -> None:
        self.session_state = {"_auth_engine": engine, "user": SimpleNamespace(username=username),
                              filters.VIEW_KEY: ["Schools", "School year 2024-25", "State: North Carolina"]}  # fmt: skip
        self.calls: list[tuple[tuple, dict]] = []

    def download_button(self, *args, **kwargs) -> None:
        self.calls.append((args, kwargs))


@pytest.fixture
def audit_engine(tmp_path: Path):
    engine = db.create_engine(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    migrate.upgrade(engine)
    return engine


def _downloads(engine) -> list[tuple[str, str]]:
    log = users.recent_audit(engine)
    log = log[log["event"] == users.DOWNLOADED]
    return list(zip(log["username"], log["detail"], strict=True))


def test_the_csv_is_made_and_audited_only_when_the_file_is_asked_for(monkeypatch, audit_engine) -> None:
    fake = _FakeStreamlit(audit_engine, "reader")
    monkeypatch.setattr(table, "st", fake)
    monkeypatch.setattr(filters, "st", fake)
    asked = []
    frame = pd.DataFrame({"school": ["=HYPERLINK(1)", "Oak"], "students": [12, 40], "rate": [0.87654, None],
                          "metric": ["graduated", "promoted"], "cost_per_student": [175.57562962962962, 3.0]})  # fmt: skip

    def build() -> pd.DataFrame:
        asked.append(True)
        return frame

    table.download_button(build, "schools_2024-25")

    (label, make), options = fake.calls[0]
    assert label == "Download CSV" and options["file_name"] == "schools_2024-25.csv"
    # A click must not rerun the page: the rerun re-registers the button and can drop the file the click asked for.
    assert options["on_click"] == "ignore"
    assert asked == [] and _downloads(audit_engine) == []  # nothing made or audited on a rerun

    heading, *lines = make().decode("utf-8").splitlines()
    # One line naming the page and its filters, then display headers, numbers rounded with their unit.
    assert heading == "# Schools; School year 2024-25; State: North Carolina"
    rows = list(csv.DictReader(lines))
    assert rows == [
        {"School": "'=HYPERLINK(1)", "Students": "12", "Rate (%)": "87.7", "Outcome": "Graduated (seniors)",
         "Cost per student (USD)": "175.58"},
        {"School": "Oak", "Students": "40", "Rate (%)": "", "Outcome": "Promoted (K-11)", "Cost per student (USD)": "3.0"},
    ]  # fmt: skip
    assert _downloads(audit_engine) == [("reader", "schools_2024-25.csv")]

    make()  # each download is its own audit row
    assert _downloads(audit_engine) == [("reader", "schools_2024-25.csv")] * 2


def test_the_tables_own_csv_export_is_hidden_so_only_the_guarded_download_exports() -> None:
    # st.dataframe's toolbar CSV writes =HYPERLINK(...) as it is and is not audited; our download button is both.
    settings = tomllib.loads((Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml").read_text())
    assert settings["client"]["disableDataExport"] is True
    assert st.get_option("client.disableDataExport") is True  # the installed Streamlit knows and reads the option
