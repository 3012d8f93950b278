"""Widgets of the admins' page for briefs by email: every subscription, adding one, removing one."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from components import accounts, data
from dashboard import config
from dashboard.briefs import content, subscriptions
from dashboard.data import geo, queries, users
from dashboard.formatting import markdown_text

NATION = "The whole network"
KIND_LABELS = {"nation": NATION, "state": "A state", "affiliate": "An affiliate"}
FORMAT_LABELS = {"pdf": "PDF", "pptx": "PowerPoint"}
CADENCE_LABELS = {"monthly": "Monthly", "after_load": "After each load"}
HEADERS = {
    "subscription_id": "ID",
    "username": "Account",
    "place": "Place",
    "format": "Format",
    "cadence": "Cadence",
    "last_sent_at": "Last sent",
    "failures": "Failures",
    "last_error": "Last error",
}
# The subscription whose Remove was pressed and now waits for its confirmation.
PENDING_REMOVAL = "subscription_remove_pending"


def _affiliate_names(engine: sa.Engine) -> dict[str, str]:
    names = data.affiliate_choices(engine, queries.EVERYTHING)
    return dict(zip(names["affiliate_id"], names["name"], strict=True))


def place_name(key: str, affiliate_names: dict[str, str]) -> str:
    """A stored place ('' , 'state:NC', 'affiliate:NC-CHARLOTTE') by name; an unknown affiliate by its id."""
    place = subscriptions.place_of(key)
    if place.affiliate:
        return affiliate_names.get(place.affiliate, place.affiliate)
    return geo.state_name(place.state) if place.state else NATION


def _shown(rows: pd.DataFrame, affiliate_names: dict[str, str]) -> pd.DataFrame:
    """The subscriptions with display headers and values: places by name, 'never' for a brief not yet sent."""
    sent = pd.to_datetime(rows["last_sent_at"], utc=True)
    shown = rows.assign(
        place=[place_name(key, affiliate_names) for key in rows["place"]],
        format=rows["format"].map(FORMAT_LABELS),
        cadence=rows["cadence"].map(CADENCE_LABELS),
        last_sent_at=sent.dt.strftime("%Y-%m-%d").fillna("never"),
        last_error=rows["last_error"].fillna(""),
    )
    return shown[list(HEADERS)].rename(columns=HEADERS)


def subscription_table(engine: sa.Engine, rows: pd.DataFrame) -> None:
    """Every subscription as data (names are never read as Markdown), or why there is none."""
    if rows.empty:
        st.info("No subscriptions yet: add one below, and each account is mailed its briefs when they are due.")
        return
    st.dataframe(_shown(rows, _affiliate_names(engine)), hide_index=True)


def _lead_note(account: users.User) -> None:
    if account.role == "affiliate_lead":
        own = ", ".join(sorted(account.affiliate_ids))
        st.caption(
            f"{markdown_text(account.username)} is an affiliate lead: it may receive briefs of its own affiliates "
            f"only ({markdown_text(own)})."
        )


def _place_picker(engine: sa.Engine) -> content.Place | None:
    """The place picked for a new subscription; None when the kind asked for has nothing to pick."""
    kind = st.radio(
        "Brief of", list(KIND_LABELS), format_func=KIND_LABELS.get, horizontal=True, key="subscription_kind"
    )
    if kind == "nation":
        return content.Place()
    if kind == "state":
        state = st.selectbox("State", data.states(engine), format_func=geo.state_name, key="subscription_state")
        return content.Place(state=state) if state else None
    names = _affiliate_names(engine)
    affiliate = st.selectbox(
        "Affiliate", list(names), format_func=lambda a: f"{names[a]} ({a})", key="subscription_affiliate"
    )
    return content.Place(affiliate=affiliate) if affiliate else None


def add_subscription(engine: sa.Engine) -> None:
    """Subscribe an account to a place's brief; a refused one shows the reason, an added one is audited."""
    known = {u.username: u for u in users.list_users(engine)}
    left, right = st.columns(2)
    with left:
        who = st.selectbox(
            "Account",
            list(known),
            format_func=lambda u: f"{u} ({known[u].name})",
            key="subscription_user",
        )
        if who:
            _lead_note(known[who])
        place = _place_picker(engine)
    with right:
        fmt = st.radio("Format", list(FORMAT_LABELS), format_func=FORMAT_LABELS.get, key="subscription_format")
        cadence = st.radio("Cadence", list(CADENCE_LABELS), format_func=CADENCE_LABELS.get, key="subscription_cadence")
    if not st.button("Add subscription", key="subscription_add"):
        return
    if who is None or place is None:
        st.error("Pick an account and a place first.")
        return
    try:
        number = subscriptions.subscribe(engine, who, place, fmt, cadence)
    except ValueError as exc:
        st.error(markdown_text(exc))
        return
    where = subscriptions.place_key(place) or "nation"
    users.audit(
        engine, who, subscriptions.SUBSCRIBED, f"subscription {number}: {where} {fmt} {cadence} by={accounts.me()}"
    )
    name = place_name(subscriptions.place_key(place), _affiliate_names(engine))
    st.success(markdown_text(f"Subscription {number} added: {who} gets the brief of {name} ({FORMAT_LABELS[fmt]})."))


def _choice(row: pd.Series, affiliate_names: dict[str, str]) -> str:
    name = place_name(row["place"], affiliate_names)
    return f"{row['subscription_id']}: {row['username']}, {name}, {FORMAT_LABELS.get(row['format'], row['format'])}"


def remove_subscription(engine: sa.Engine, rows: pd.DataFrame) -> None:
    """Remove a subscription after a confirmation; the removal is audited with who did it."""
    if rows.empty:
        st.caption("There is no subscription to remove.")
        return
    names = _affiliate_names(engine)
    labels = {int(row["subscription_id"]): _choice(row, names) for _, row in rows.iterrows()}
    chosen = st.selectbox("Subscription", list(labels), format_func=labels.get, key="subscription_remove_id")
    if st.button("Remove subscription", key="subscription_remove"):
        st.session_state[PENDING_REMOVAL] = chosen
    if st.session_state.get(PENDING_REMOVAL) != chosen:
        return
    st.warning(markdown_text(f"Remove subscription {labels[chosen]}? The account gets no more of this brief."))
    if not st.button("Confirm removal", type="primary", key="subscription_remove_confirm"):
        return
    del st.session_state[PENDING_REMOVAL]
    owner = str(rows.loc[rows["subscription_id"] == chosen, "username"].iloc[0])
    if subscriptions.unsubscribe(engine, chosen):
        users.audit(engine, owner, subscriptions.UNSUBSCRIBED, f"subscription {chosen} by={accounts.me()}")
        st.success(f"Subscription {chosen:d} removed.")
    else:
        st.error(f"Subscription {chosen:d} was already removed.")


def sending_note() -> None:
    """Who sends the briefs, and a warning when no mail server is set, so nothing would be sent."""
    st.caption(
        "Who receives which brief. They are mailed by `python -m dashboard briefs send`, run from cron, through "
        "the mail server of the `smtp_host`, `smtp_port`, `smtp_security`, `smtp_sender`, `smtp_username` and "
        "`smtp_password` settings (`DASHBOARD_SMTP_HOST` and so on)."
    )
    if not config.get("smtp_host"):
        st.warning("No mail server is set (`smtp_host` is empty): `briefs send` will refuse to run until it is.")


def subscription_section(engine: sa.Engine) -> None:
    """The table of subscriptions above the tabs that add and remove them; the table shows this run's changes."""
    table_spot = st.container()
    add, remove = st.tabs(["Add a subscription", "Remove"])
    with add:
        add_subscription(engine)
    with remove:
        remove_subscription(engine, subscriptions.listed(engine))
    with table_spot:
        subscription_table(engine, subscriptions.listed(engine))
