"""A chart on the page with its picture beside it: the plotly figure, and a PNG of it that carries its title, the
view (place, year, filters) and its source, made on click by kaleido, audited like every download."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from components import data, filters
from dashboard import chart_images
from dashboard.data import users

SOURCES = {
    "counts": "schools' reports of students served (outcome tables, students by tier)",
    "outcomes": "the outcome tables (students eligible and students who met each outcome)",
    "partners": "partners' reports (in-kind gifts, volunteer hours, supports)",
    "finances": "affiliates' books (expenses and revenue)",
    "model": "the dashboard's return-on-investment model, on affiliates' books and the outcome tables",
}


def show(fig: go.Figure, key: str, title: str, source: str, **options) -> object:
    """st.plotly_chart(fig, key=key, **options), and under it a 'Chart as PNG' download titled `title` whose
    source line reads SOURCES[source]; returns the chart's selection event as st.plotly_chart does."""
    event = st.plotly_chart(fig, key=key, **options)
    image_button(fig, key, title, SOURCES[source])
    return event


def image_button(fig: go.Figure, name: str, title: str, source: str) -> None:
    """The figure as a PNG, dressed for a proposal (chart_images.dressed), drawn only when clicked."""
    view = filters.view_parts()
    subtitle = "; ".join(view[1:]) or "; ".join(view)
    engine = st.session_state.get("_auth_engine")
    username = getattr(st.session_state.get("user"), "username", None)
    demo = engine is not None and data.is_demo(engine)
    footer = f"Source: {source}." + (" Demo data: a synthetic network, not real students." if demo else "")
    file_name = f"{name}.png"
    if chart_images.browser_path() is None:
        st.caption("A picture of this chart needs Chromium on the server; its data is in the table below.")
        return

    def make() -> bytes:
        body = chart_images.image(chart_images.dressed(fig, title, subtitle, footer))
        if engine is not None and username:
            users.audit(engine, username, users.DOWNLOADED, file_name)
        return body

    st.download_button("Chart as PNG", make, file_name=file_name, mime="image/png", key=f"png_{name}",
                       on_click="ignore", type="tertiary", icon=":material/image:")  # fmt: skip
