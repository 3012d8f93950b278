"""The admins' page through AppTest: every account listed, actions audited, the audit log filterable."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.data import db, migrate, users

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> sa.Engine:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'admin.sqlite3'}")
    migrate.upgrade(engine)
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", str(engine.url))
    monkeypatch.setattr(users, "_hash", lambda pw: users.bcrypt.hashpw(pw.encode(), users.bcrypt.gensalt(4)).decode())
    users.add_user(engine, "chief", "Chief Admin", "chief@example.org", "a long test password", "admin")
    users.add_user(engine, "reader", "Board Reader", "reader@example.org", "a long test password", "board")
    st.cache_data.clear()
    st.cache_resource.clear()
    return engine


def _page(engine: sa.Engine) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / "admin.py"), default_timeout=60)
    at.session_state["user"] = users.get_user(engine, "chief")
    return at


def test_accounts_are_listed_without_hashes_and_the_log_shows_what_happened(fresh: sa.Engine) -> None:
    at = _page(fresh).run()
    assert not at.exception
    accounts = at.dataframe[0].value
    assert sorted(accounts["username"]) == ["chief", "reader"]
    assert not any("$2b$" in str(v) for v in accounts.to_numpy().ravel())
    log = at.dataframe[1].value
    with fresh.connect() as conn:
        expected = conn.execute(sa.select(sa.func.count()).select_from(db.audit_log)).scalar_one()
    assert len(log) == expected == 2  # the two accounts added
    assert set(log["event"]) == {users.ADDED}


def test_changing_a_role_is_written_and_audited_with_who_did_it(fresh: sa.Engine) -> None:
    at = _page(fresh).run()
    at.selectbox(key="role_user").set_value("reader")
    at.selectbox(key="role_role").set_value("fundraiser")
    at.button[1].click().run()  # the second form's submit button: "Change role"
    assert not at.exception
    assert users.get_user(fresh, "reader").role == "fundraiser"
    log = users.recent_audit(fresh)
    changed = log[log["event"] == users.ROLE_CHANGED]
    assert len(changed) == 1 and "by=chief" in changed["detail"].iloc[0]


def test_an_admin_cannot_demote_or_remove_itself(fresh: sa.Engine) -> None:
    at = _page(fresh).run()
    at.selectbox(key="role_user").set_value("chief")
    at.selectbox(key="role_role").set_value("board")
    at.button[1].click().run()
    assert any("cannot take the admin role" in e.value for e in at.error)
    assert users.get_user(fresh, "chief").role == "admin"


def test_the_audit_log_filters_by_event(fresh: sa.Engine) -> None:
    users.audit(fresh, "reader", users.DOWNLOADED, "kpis_by_year.csv")
    at = _page(fresh).run()
    at.multiselect[1].set_value([users.DOWNLOADED]).run()
    assert not at.exception
    log = at.dataframe[1].value
    assert list(log["event"]) == [users.DOWNLOADED] and list(log["detail"]) == ["kpis_by_year.csv"]
