"""Entry: page config, the database, sign-in, and the pages the signed-in role may see."""

import streamlit as st

from components import auth, data, filters
from dashboard import access, config

st.set_page_config(page_title="Impact dashboard", page_icon=":school:", layout="wide")

try:
    engine = data.engine()
    data.read_version(engine)  # once per rerun: the cached reads of this run are keyed on it
    demo = data.is_demo(engine)
except auth.DATABASE_DOWN:
    auth.database_unreachable()  # the form stays up; each run tries the database again
except config.ConfigError as exc:
    st.error(f"The dashboard cannot start: {exc}")
    st.stop()
if demo:
    st.warning(
        "Demo data: a synthetic network calibrated to the published national figures. No real students.", icon="ℹ️"
    )

# Sign-in reads the cookie before navigation is built, so a refresh stays on its page (authenticator #179).
user = auth.signed_in_user(engine)
auth.logout_button()


def _not_available() -> None:
    """What a URL to a page outside the role shows: a plain statement, and the way back."""
    st.title("Not available for your role")
    st.write(
        f"This page is not part of the {user.role.replace('_', ' ')} role. "
        "Ask an administrator if you need it; the pages you can open are in the menu."
    )
    st.page_link("app_pages/overview.py", label="Back to the overview", icon=":material/home:")


visible = [
    st.Page(p.script, title=p.title, icon=p.icon, url_path=p.url_path or None, default=not p.url_path)
    for p in access.allowed(user.role)
]
hidden = [
    st.Page(_not_available, title=p.title, url_path=p.url_path, visibility="hidden") for p in access.refused(user.role)
]
try:
    current = st.navigation(visible + hidden)
    filters.begin_view(current.title)
    current.run()
except auth.DATABASE_DOWN:  # it went away while this page ran
    st.error(auth.UNREACHABLE)
