"""A data table with a CSV download, safe to open in a spreadsheet."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.export import to_csv


def data_expander(frame: pd.DataFrame, name: str, label: str = "Data") -> None:
    """The table behind a chart, in an expander, with a CSV download."""
    with st.expander(label):
        st.dataframe(frame, hide_index=True)
        st.download_button("Download CSV", to_csv(frame), file_name=f"{name}.csv", mime="text/csv", key=f"dl_{name}")
