"""The admins' page adds, lists and removes brief subscriptions as `briefs subscribe|unsubscribe|list` does."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.briefs import content, subscriptions
from dashboard.data import db, users
from dashboard.formatting import markdown_text
from tests.pages.test_hostile_names import FRAGMENTS, HOSTILE, MARKDOWN_ELEMENTS

ROOT = Path(__file__).resolve().parents[2]
HOSTILE_NAME = f"Aff {HOSTILE} <img src=x onerror=alert(1)>"


@pytest.fixture
def network(sqlite_engine: sa.Engine, raw, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A copy of the small network with an admin and a lead of one affiliate; (engine, its affiliate, another)."""
    path = tmp_path / "subscriptions.sqlite3"
    with sqlite3.connect(sqlite_engine.url.database) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    engine = db.create_engine(f"sqlite:///{path}")
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", str(engine.url))
    monkeypatch.setattr(users, "_hash", lambda pw: users.bcrypt.hashpw(pw.encode(), users.bcrypt.gensalt(4)).decode())
    own, other = (str(a) for a in raw["schools"]["affiliate_id"].value_counts().index[:2])
    users.add_user(engine, "chief", "Chief Admin", "chief@example.org", "a long test password", "admin")
    users.add_user(
        engine, "charlie", "Lead Charlie", "lead@example.org", "a long test password", "affiliate_lead", [own]
    )
    st.cache_data.clear()
    st.cache_resource.clear()
    yield engine, own, other
    st.cache_data.clear()
    st.cache_resource.clear()


def _page(engine: sa.Engine) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / "admin.py"), default_timeout=60)
    at.session_state["user"] = users.get_user(engine, "chief")
    return at


def _affiliate_name(engine: sa.Engine, affiliate: str) -> str:
    with engine.connect() as conn:
        query = sa.select(db.affiliates.c.name).where(db.affiliates.c.affiliate_id == affiliate)
        return conn.execute(query).scalar_one()


def _shown_subscriptions(at: AppTest) -> pd.DataFrame:
    """The page's table of subscriptions (the one headed by Account and Place)."""
    tables = [d.value for d in at.dataframe if {"Account", "Place"} <= set(d.value.columns)]
    assert len(tables) == 1
    return tables[0]


def _add(at: AppTest, username: str, affiliate: str) -> AppTest:
    at.selectbox(key="subscription_user").set_value(username)
    at.radio(key="subscription_kind").set_value("affiliate").run()
    at.selectbox(key="subscription_affiliate").set_value(affiliate)
    at.radio(key="subscription_format").set_value("pptx")
    at.radio(key="subscription_cadence").set_value("after_load")
    return at.button(key="subscription_add").click().run()


def test_a_lead_subscribed_to_its_own_affiliate_is_stored_listed_and_audited(network) -> None:
    engine, own, _ = network
    at = _add(_page(engine).run(), "charlie", own)
    assert not at.exception and not at.error
    stored = subscriptions.listed(engine)
    assert stored[["username", "place", "format", "cadence"]].to_dict("records") == [
        {"username": "charlie", "place": f"affiliate:{own}", "format": "pptx", "cadence": "after_load"}
    ]
    number = int(stored["subscription_id"].iloc[0])
    assert [s.value for s in at.success] == [
        markdown_text(f"Subscription {number} added: charlie gets the brief of {_affiliate_name(engine, own)} "
                      "(PowerPoint).")
    ]  # fmt: skip
    shown = _shown_subscriptions(at)
    assert shown.to_dict("records") == [{
        "ID": number, "Account": "charlie", "Place": _affiliate_name(engine, own), "Format": "PowerPoint",
        "Cadence": "After each load", "Last sent": "never", "Failures": 0, "Last error": "",
    }]  # fmt: skip
    log = users.recent_audit(engine)
    added = log[log["event"] == subscriptions.SUBSCRIBED]
    assert list(added["username"]) == ["charlie"] and "by=chief" in added["detail"].iloc[0]


def test_a_lead_cannot_be_subscribed_to_another_affiliate(network) -> None:
    engine, own, other = network
    at = _add(_page(engine).run(), "charlie", other)
    assert not at.exception
    assert [e.value for e in at.error] == [
        markdown_text(f"charlie may only receive briefs of its own affiliates ({own})")
    ]
    assert not at.success
    assert subscriptions.listed(engine).empty
    assert subscriptions.SUBSCRIBED not in set(users.recent_audit(engine)["event"])


def test_removing_a_subscription_asks_first_then_deletes_it(network) -> None:
    engine, own, _ = network
    keep = subscriptions.subscribe(engine, "chief", content.Place(state="NC"))
    gone = subscriptions.subscribe(engine, "charlie", content.Place(affiliate=own))
    at = _page(engine).run()
    at.selectbox(key="subscription_remove_id").set_value(gone)
    at.button(key="subscription_remove").click().run()
    assert len(subscriptions.listed(engine)) == 2  # nothing removed before the confirmation
    at.button(key="subscription_remove_confirm").click().run()
    assert not at.exception
    assert list(subscriptions.listed(engine)["subscription_id"]) == [keep]
    assert list(_shown_subscriptions(at)["ID"]) == [keep]
    log = users.recent_audit(engine)
    assert list(log.loc[log["event"] == subscriptions.UNSUBSCRIBED, "username"]) == ["charlie"]


def test_with_no_subscriptions_the_page_says_so(network) -> None:
    engine, _, _ = network
    at = _page(engine).run()
    assert not at.exception
    assert any(i.value.startswith("No subscriptions yet:") for i in at.info)
    assert not [d for d in at.dataframe if "Account" in d.value.columns]


def test_hostile_affiliate_and_account_names_are_shown_as_data(network) -> None:
    engine, own, _ = network
    with engine.begin() as conn:
        conn.execute(db.affiliates.update().where(db.affiliates.c.affiliate_id == own).values(name=HOSTILE_NAME))
        conn.execute(db.users.update().where(db.users.c.username == "charlie").values(name=HOSTILE_NAME))
    at = _add(_page(engine).run(), "charlie", own)
    assert not at.exception and not at.error
    assert list(_shown_subscriptions(at)["Place"]) == [HOSTILE_NAME]  # as data, exactly as written
    texts = [str(e.value) for kind in MARKDOWN_ELEMENTS for e in at.get(kind)] + [b.label for b in at.button]
    for text in texts:
        for fragment in (*FRAGMENTS, "<img src=x"):
            assert fragment not in text, (fragment, text)
    assert any(markdown_text(HOSTILE_NAME) in s.value for s in at.success)  # the name did reach the message
