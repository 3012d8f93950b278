"""Sidebar filters that live in the URL, so a copied link opens the same view."""

from __future__ import annotations

import streamlit as st


def school_year(years: list[str], key: str = "year") -> str:
    """One school year, read from and written to ?year=; an unknown value falls back to the latest with a notice."""
    wanted = st.query_params.get(key)
    if wanted is not None and wanted not in years:
        st.sidebar.info(f"School year {wanted!r} is not in the data; showing the latest year instead.")
        wanted = None
    index = years.index(wanted) if wanted else len(years) - 1
    chosen = st.sidebar.selectbox("School year", years, index=index, key=f"filter_{key}")
    st.query_params[key] = chosen
    return chosen
