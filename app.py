"""Entry: page config, the database, sign-in, and the pages the signed-in role may see."""

import streamlit as st

from components import auth, data

st.set_page_config(page_title="Impact dashboard", page_icon=":school:", layout="wide")

engine = data.engine_or_stop()
if data.is_demo(engine):
    st.warning(
        "Demo data: a synthetic network calibrated to the published national figures. No real students.", icon="ℹ️"
    )

# Sign-in reads the cookie before navigation is built, so a refresh stays on its page (authenticator #179).
user = auth.signed_in_user(engine)
auth.logout_button()

pages = [
    st.Page("pages/overview.py", title="Overview", icon=":material/insights:", default=True),
    st.Page("pages/outcomes.py", title="Outcomes", icon=":material/bar_chart:", url_path="outcomes"),
    st.Page("pages/roi.py", title="Return on investment", icon=":material/payments:", url_path="roi"),
]
if user.role == "admin":
    pages.append(st.Page("pages/data.py", title="Data", icon=":material/upload_file:", url_path="data"))
st.navigation(pages).run()
