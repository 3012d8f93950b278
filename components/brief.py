"""The "Download brief" button: the one-page PDF of the place in view, made on click and audited."""

from __future__ import annotations

import sqlalchemy as sa
import streamlit as st

from dashboard.briefs import content, pdf
from dashboard.data import queries, users


def download(engine: sa.Engine, filters: queries.Filters, scope: queries.Scope, year: str) -> None:
    """A download of the brief of the view's place for `year`, or a line saying how to get one."""
    place = content.place_for(filters, scope)
    if place is None:
        st.caption("A brief is of one place: pick one state or one affiliate (or none, for the nation) to get one.")
        return
    name = place.affiliate or place.state or "nation"
    file_name = f"brief-{name}-{year}.pdf"
    username = getattr(st.session_state.get("user"), "username", None)

    def make() -> bytes:
        body = pdf.render(content.build(engine, place, year, scope))
        if username:
            users.audit(engine, username, users.DOWNLOADED, file_name)
        return body

    narrowed = filters.levels or filters.locales or filters.title_i is not None or filters.tiers
    st.download_button("Download brief (PDF)", make, file_name=file_name, mime="application/pdf", key="dl_brief",
                       on_click="ignore", icon=":material/description:",
                       help="One page: headline counts, outcomes beside state and nation, students by tier"
                       + (". It covers every school of the place: the level, locale, Title I and tier filters "
                          "do not apply to it." if narrowed else "."))  # fmt: skip
