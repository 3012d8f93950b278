import streamlit as st

from components import accounts, data, subscriptions

engine = data.engine_or_stop()
st.title("Accounts and audit")
st.caption("Who can sign in and with which role; every sign-in, failed sign-in, download and role change.")

st.header("Accounts")
usernames = accounts.account_table(engine)
accounts.account_actions(engine, usernames)

st.header("Brief subscriptions")
subscriptions.sending_note()
subscriptions.subscription_section(engine)

st.header("Audit log")
accounts.audit_log(engine)
