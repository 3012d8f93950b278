"""The brief downloads: the one-page PDF and the PowerPoint slide of the place in view, made on click and audited."""

from __future__ import annotations

import sqlalchemy as sa
import streamlit as st

from dashboard.briefs import content, pdf, slides
from dashboard.data import queries, users


def download(engine: sa.Engine, filters: queries.Filters, scope: queries.Scope, year: str,
             place: content.Place | None = None) -> None:  # fmt: skip
    """A download of the brief of `place` (by default the view's place) for `year`, or a line saying how to get
    one."""
    place = place or content.place_for(filters, scope)
    if place is None:
        st.caption("A brief is of one place: pick one state or one affiliate (or none, for the nation) to get one.")
        return
    name = place.school or place.affiliate or place.state or "nation"
    username = getattr(st.session_state.get("user"), "username", None)
    narrowed = filters.levels or filters.locales or filters.title_i is not None or filters.tiers
    note = "One page: headline counts, outcomes beside state and nation, the trend, students by tier" + (
        ". It covers every school of the place: the level, locale, Title I and tier filters do not apply to it."
        if narrowed else "."
    )  # fmt: skip
    left, right = st.columns([1, 1], gap="small", width=460)
    for slot, (label, kind, module, mime) in zip((left, right), _FORMATS, strict=True):
        file_name = f"brief-{name}-{year}.{kind}"

        def make(module=module, file_name=file_name) -> bytes:
            body = module.render(content.build(engine, place, year, scope))
            if username:
                users.audit(engine, username, users.DOWNLOADED, file_name)
            return body

        slot.download_button(label, make, file_name=file_name, mime=mime, key=f"dl_brief_{kind}", on_click="ignore",
                             icon=":material/description:", help=note)  # fmt: skip


_FORMATS = (
    ("Download brief (PDF)", "pdf", pdf, "application/pdf"),
    ("Brief as PowerPoint", "pptx", slides,
     "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)  # fmt: skip
