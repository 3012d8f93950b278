"""Entry: page config, the database, and navigation."""

import streamlit as st

from components import data

st.set_page_config(page_title="Impact dashboard", page_icon=":school:", layout="wide")

engine = data.engine_or_stop()
if data.is_demo(engine):
    st.warning(
        "Demo data: a synthetic network calibrated to the published national figures. No real students.", icon="ℹ️"
    )

pages = [
    st.Page("pages/overview.py", title="Overview", icon=":material/insights:", default=True),
    st.Page("pages/outcomes.py", title="Outcomes", icon=":material/bar_chart:", url_path="outcomes"),
    st.Page("pages/roi.py", title="Return on investment", icon=":material/payments:", url_path="roi"),
]
st.navigation(pages).run()
