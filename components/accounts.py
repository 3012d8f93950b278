"""Widgets of the admins' page: every account with its lock, the actions on accounts, the audit log."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from components import table
from dashboard.data import users

ROLE_LABELS = {
    "admin": "Admin",
    "board": "Board member",
    "fundraiser": "Fundraiser",
    "affiliate_lead": "Affiliate lead",
}


def me() -> str:
    """The signed-in admin's username, as the audit log records who made a change."""
    return getattr(st.session_state.get("user"), "username", None) or "admin"


def account_table(engine: sa.Engine) -> list[str]:
    """Every account (never a password hash), with its lock; returns the usernames."""
    accounts = users.list_users(engine)
    locked = users.locked_accounts(engine)
    frame = pd.DataFrame(
        {
            "username": [u.username for u in accounts],
            "name": [u.name for u in accounts],
            "email": [u.email for u in accounts],
            "role": [ROLE_LABELS.get(u.role, u.role) for u in accounts],
            "affiliates": [", ".join(sorted(u.affiliate_ids)) for u in accounts],
            "locked until (UTC)": [
                locked[u.username].strftime("%Y-%m-%d %H:%M") if u.username in locked else "" for u in accounts
            ],
        }
    )
    st.dataframe(frame, hide_index=True)
    return [u.username for u in accounts]


def _run(action, success: str) -> None:
    """Run an account action; a refused one shows its reason, never a traceback."""
    try:
        action()
    except ValueError as exc:
        st.error(str(exc))
    else:
        st.success(success)


def _affiliates(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def account_actions(engine: sa.Engine, usernames: list[str]) -> None:
    """Add an account, change a role, set a new password, remove an account: each audited with who did it."""
    add, role, password, remove = st.tabs(["Add", "Change role", "New password", "Remove"])
    with add, st.form("account_add", clear_on_submit=True):
        username = st.text_input("Username (lower case, 2-40 characters)")
        name = st.text_input("Full name")
        email = st.text_input("Email")
        new_role = st.selectbox("Role", users.ROLES, format_func=ROLE_LABELS.get)
        affiliates = st.text_input("Affiliate ids, comma-separated (affiliate leads only)")
        secret = st.text_input("Password (at least 10 characters)", type="password")
        if st.form_submit_button("Add account"):
            ids = _affiliates(affiliates)
            _run(
                lambda: users.add_user(engine, username.strip().lower(), name, email, secret, new_role, ids, by=me()),
                f"Added {username}.",
            )
    with role, st.form("account_role"):
        who = st.selectbox("Account", usernames, key="role_user")
        new_role = st.selectbox("New role", users.ROLES, format_func=ROLE_LABELS.get, key="role_role")
        affiliates = st.text_input("Affiliate ids, comma-separated (affiliate leads only)", key="role_affiliates")
        if st.form_submit_button("Change role"):
            if who == me() and new_role != "admin":
                st.error("You cannot take the admin role from your own account; ask another admin.")
            else:
                ids = _affiliates(affiliates) if new_role == "affiliate_lead" and affiliates.strip() else None
                _run(lambda: users.set_role(engine, who, new_role, ids, by=me()), f"{who} is now {new_role}.")
    with password, st.form("account_password", clear_on_submit=True):
        who = st.selectbox("Account", usernames, key="password_user")
        secret = st.text_input("New password (at least 10 characters)", type="password")
        st.caption("Setting a new password also clears a lock and signs the account out everywhere.")
        if st.form_submit_button("Set password"):
            _run(lambda: users.reset_password(engine, who, secret, by=me()), f"New password set for {who}.")
    with remove, st.form("account_remove"):
        who = st.selectbox("Account", usernames, key="remove_user")
        sure = st.checkbox("I understand this account can no longer sign in (its audit rows stay).")
        if st.form_submit_button("Remove account", type="primary"):
            if not sure:
                st.error("Tick the box to confirm.")
            elif who == me():
                st.error("You cannot remove your own account.")
            else:
                _run(lambda: users.remove_user(engine, who, by=me()), f"Removed {who}.")


def audit_log(engine: sa.Engine, limit: int = 500) -> None:
    """The newest audit rows, filterable by user and event, with a download."""
    log = users.recent_audit(engine, limit=limit)
    if log.empty:
        st.info("Nothing has been recorded yet.")
        return
    left, right = st.columns(2)
    who = left.multiselect("User", sorted(log["username"].unique()), placeholder="Everyone")
    what = right.multiselect("Event", sorted(log["event"].unique()), placeholder="Every event")
    keep = pd.Series(True, index=log.index)
    if who:
        keep &= log["username"].isin(who)
    if what:
        keep &= log["event"].isin(what)
    shown = log[keep]
    shown = shown.assign(at=shown["at"].dt.strftime("%Y-%m-%d %H:%M:%S UTC"))
    st.caption(f"{len(shown):,} of the newest {len(log):,} events.")
    table.table_with_download(shown, "audit_log")
