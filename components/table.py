"""A data table with a CSV download, safe to open in a spreadsheet; every download is audited."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from components import filters
from dashboard import export
from dashboard.data import users


def download_button(frame: pd.DataFrame | Callable[[], pd.DataFrame], name: str, label: str = "Download CSV") -> None:
    """A CSV download of the frame for people (`export.for_people`: display headers, numbers rounded with their
    unit), headed by one line naming the page and its filters, formula-safe, and audited as it is made.

    The CSV, and the frame when given as a function, are made only when the button is clicked, not on every rerun.
    The click does not rerun the page: a rerun registers the button anew and can drop the file the click asked for
    before the server makes it, so the download would silently never start (seen under load in CI). The audit row is
    therefore written by the file's own maker, which Streamlit runs off the script thread.
    """
    engine = st.session_state.get("_auth_engine")
    username = getattr(st.session_state.get("user"), "username", None)
    file_name = f"{name}.csv"
    heading = filters.view_line()  # read now: the maker runs off the script thread, after this run

    def make() -> bytes:
        body = export.to_csv(export.for_people(frame() if callable(frame) else frame), heading)
        if engine is not None and username:
            users.audit(engine, username, users.DOWNLOADED, file_name)
        return body

    st.download_button(label, make, file_name=file_name, mime="text/csv", key=f"dl_{name}", on_click="ignore")


def table_with_download(frame: pd.DataFrame, name: str) -> None:
    """The table and its CSV download."""
    st.dataframe(frame, hide_index=True)
    download_button(frame, name)


def data_expander(frame: pd.DataFrame, name: str, label: str = "Data") -> None:
    """The table behind a chart, in an expander, with a CSV download."""
    with st.expander(label):
        table_with_download(frame, name)
