"""Accounts: bcrypt hashing, roles and scope, sign-in lockout, the audit log and the `users` CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bcrypt
import pytest
import sqlalchemy as sa

from dashboard.data import db, migrate, users
from dashboard.data.queries import Scope

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "correct-horse-battery"
CLI = (
    "import argparse,sys; from dashboard.data import users; p=argparse.ArgumentParser(); "
    "s=p.add_subparsers(dest='command', required=True); users.register_cli(s); "
    "a=p.parse_args(sys.argv[1:]); sys.exit(a.func(a))"
)
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap hashes in-process; the CLI subprocess keeps the real cost."""
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)
    monkeypatch.setenv("DASHBOARD_MAX_FAILED_LOGINS", "3")
    monkeypatch.setenv("DASHBOARD_LOCKOUT_MINUTES", "15")


def _name() -> str:
    """A username no other test uses (the session databases are shared)."""
    return f"u_{uuid.uuid4().hex[:10]}"


def _add_affiliates(engine: sa.Engine, *ids: str) -> None:
    with engine.begin() as conn:
        for i in ids:
            conn.execute(db.affiliates.insert().values(affiliate_id=i, name=i, kind="affiliate", state="NC", city="X"))


@pytest.fixture
def fresh(tmp_path: Path) -> sa.Engine:
    """An empty, migrated SQLite database with two affiliates."""
    e = db.create_engine(f"sqlite:///{tmp_path / 'u.sqlite3'}")
    migrate.upgrade(e)
    _add_affiliates(e, "ZZ-LAST", "AA-FIRST")
    return e


def _events(engine: sa.Engine, username: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(db.audit_log.c.event).where(db.audit_log.c.username == username).order_by(db.audit_log.c.event_id)
        )
        return list(rows.scalars())


def _row(engine: sa.Engine, username: str) -> sa.Row:
    with engine.connect() as conn:
        return conn.execute(sa.select(db.users).where(db.users.c.username == username)).one()


def test_hash_never_stores_plaintext(fresh: sa.Engine) -> None:
    users.add_user(fresh, "alice", "Alice", "alice@example.org", PASSWORD, "board")
    row = _row(fresh, "alice")
    assert PASSWORD not in row.password_hash
    assert row.password_hash.startswith("$2b$")
    assert bcrypt.checkpw(PASSWORD.encode(), row.password_hash.encode())
    with fresh.connect() as conn:
        details = " ".join(conn.execute(sa.select(db.audit_log.c.detail)).scalars())
    assert PASSWORD not in details


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "too short"), ("123456789", "too short"), ("é" * 37, "too long"), ("x" * 73, "too long")],
)
def test_password_length_rules(fresh: sa.Engine, password: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        users.add_user(fresh, "bob", "Bob", "bob@example.org", password, "board")
    assert users.get_user(fresh, "bob") is None


def test_password_of_exactly_72_bytes_is_accepted(fresh: sa.Engine) -> None:
    users.add_user(fresh, "bob", "Bob", "bob@example.org", "x" * 72, "board")
    assert users.verify_login(fresh, "bob", "x" * 72, now=T0) is not None
    assert users.verify_login(fresh, "bob", "x" * 73, now=T0) is None


@pytest.mark.parametrize("username", ["a", "Alice", "has space", "x" * 41, "semi;colon", "bob\n", ""])
def test_bad_usernames_are_refused(fresh: sa.Engine, username: str) -> None:
    with pytest.raises(ValueError, match="username"):
        users.add_user(fresh, username, "N", "n@example.org", PASSWORD, "board")


def test_role_rules(fresh: sa.Engine) -> None:
    with pytest.raises(ValueError, match="unknown role"):
        users.add_user(fresh, "carol", "C", "c@example.org", PASSWORD, "superuser")
    with pytest.raises(ValueError, match="at least one affiliate"):
        users.add_user(fresh, "carol", "C", "c@example.org", PASSWORD, "affiliate_lead")
    with pytest.raises(ValueError, match="NOPE"):
        users.add_user(fresh, "carol", "C", "c@example.org", PASSWORD, "affiliate_lead", ["AA-FIRST", "NOPE"])
    with pytest.raises(ValueError, match="only affiliate_lead"):
        users.add_user(fresh, "carol", "C", "c@example.org", PASSWORD, "board", ["AA-FIRST"])
    assert users.list_users(fresh) == []


def test_duplicate_username_is_refused(fresh: sa.Engine) -> None:
    users.add_user(fresh, "dave", "Dave", "d@example.org", PASSWORD, "admin")
    with pytest.raises(users.UserExists, match="already exists"):
        users.add_user(fresh, "dave", "Other", "o@example.org", PASSWORD, "board")


def test_scope_property() -> None:
    for role in ("admin", "board", "fundraiser"):
        assert users.User("u1", "U", "u@x.org", role, frozenset({"A"})).scope == Scope.everything()
    lead = users.User("u2", "U", "u@x.org", "affiliate_lead", frozenset({"A", "B"}))
    assert lead.scope == Scope(frozenset({"A", "B"}))
    assert lead.scope.affiliates == frozenset({"A", "B"})


def test_lead_round_trips_with_affiliates(fresh: sa.Engine) -> None:
    users.add_user(fresh, "erin", "Erin", "e@example.org", PASSWORD, "affiliate_lead", ["ZZ-LAST", "AA-FIRST"])
    user = users.verify_login(fresh, "erin", PASSWORD, now=T0)
    assert user == users.get_user(fresh, "erin")
    assert user.affiliate_ids == frozenset({"ZZ-LAST", "AA-FIRST"})
    assert user.scope.affiliates == frozenset({"ZZ-LAST", "AA-FIRST"})


def test_wrong_password_fails_and_unknown_user_is_audited(fresh: sa.Engine) -> None:
    users.add_user(fresh, "fred", "Fred", "f@example.org", PASSWORD, "fundraiser")
    assert users.verify_login(fresh, "fred", "wrong-password-here", now=T0) is None
    assert users.verify_login(fresh, "nobody", PASSWORD, now=T0) is None
    user = users.verify_login(fresh, "fred", PASSWORD, now=T0)
    assert user is not None and user.role == "fundraiser"
    assert _events(fresh, "fred") == [users.ADDED, users.FAILED, users.SIGNED_IN]
    assert _events(fresh, "nobody") == [users.FAILED]


def test_unknown_user_spends_a_bcrypt_check(fresh: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real = bcrypt.checkpw
    monkeypatch.setattr(users.bcrypt, "checkpw", lambda pw, h: calls.append(h) or real(pw, h))
    assert users.verify_login(fresh, "ghost", PASSWORD, now=T0) is None
    assert len(calls) == 1


def test_lockout_refuses_right_password_until_it_expires(fresh: sa.Engine) -> None:
    users.add_user(fresh, "gina", "Gina", "g@example.org", PASSWORD, "board")
    for i in range(3):
        assert users.verify_login(fresh, "gina", f"wrong-password-{i}", now=T0 + timedelta(seconds=i)) is None
    assert _events(fresh, "gina")[-1] == users.LOCKED_OUT
    assert "gina" in users.locked_accounts(fresh, now=T0 + timedelta(minutes=1))
    # Locked: even the right password is refused.
    assert users.verify_login(fresh, "gina", PASSWORD, now=T0 + timedelta(minutes=14)) is None
    assert _events(fresh, "gina")[-1] == users.REFUSED_LOCKED
    # After lockout_minutes the right password works and the counter resets.
    user = users.verify_login(fresh, "gina", PASSWORD, now=T0 + timedelta(minutes=16))
    assert user is not None and user.username == "gina"
    row = _row(fresh, "gina")
    assert row.failed_attempts == 0 and row.locked_until is None
    assert users.locked_accounts(fresh, now=T0 + timedelta(minutes=16)) == {}


def test_success_resets_the_failure_count(fresh: sa.Engine) -> None:
    users.add_user(fresh, "hank", "Hank", "h@example.org", PASSWORD, "board")
    for _ in range(2):
        users.verify_login(fresh, "hank", "wrong-password", now=T0)
    assert _row(fresh, "hank").failed_attempts == 2
    assert users.verify_login(fresh, "hank", PASSWORD, now=T0) is not None
    assert _row(fresh, "hank").failed_attempts == 0
    for _ in range(2):  # two more failures are not consecutive with the first two: no lock
        users.verify_login(fresh, "hank", "wrong-password", now=T0)
    assert users.verify_login(fresh, "hank", PASSWORD, now=T0) is not None


def test_reset_password_unlocks(fresh: sa.Engine) -> None:
    users.add_user(fresh, "ivy", "Ivy", "i@example.org", PASSWORD, "board")
    for _ in range(3):
        users.verify_login(fresh, "ivy", "wrong-password", now=T0)
    users.reset_password(fresh, "ivy", "a-brand-new-password")
    assert users.verify_login(fresh, "ivy", PASSWORD, now=T0) is None
    assert users.verify_login(fresh, "ivy", "a-brand-new-password", now=T0) is not None
    assert users.PASSWORD_RESET in _events(fresh, "ivy")


def test_set_role_and_remove_are_audited(fresh: sa.Engine) -> None:
    users.add_user(fresh, "jack", "Jack", "j@example.org", PASSWORD, "board")
    lead = users.set_role(fresh, "jack", "affiliate_lead", ["AA-FIRST"], by="admin")
    assert lead.scope.affiliates == frozenset({"AA-FIRST"})
    assert users.set_role(fresh, "jack", "affiliate_lead").affiliate_ids == frozenset({"AA-FIRST"})
    assert users.set_role(fresh, "jack", "admin").affiliate_ids == frozenset()
    with pytest.raises(ValueError, match="unknown role"):
        users.set_role(fresh, "jack", "root")
    users.remove_user(fresh, "jack", by="admin")
    assert users.get_user(fresh, "jack") is None
    with pytest.raises(ValueError, match="no user"):
        users.remove_user(fresh, "jack")
    events = _events(fresh, "jack")
    assert events.count(users.ROLE_CHANGED) == 3 and events[-1] == users.REMOVED
    audit = users.recent_audit(fresh)
    assert list(audit.columns) == ["at", "username", "event", "detail"]
    assert audit.iloc[0]["event"] == users.REMOVED and "by=admin" in audit.iloc[0]["detail"]
    assert len(users.recent_audit(fresh, limit=2)) == 2


def test_audit_function_writes_a_row(fresh: sa.Engine) -> None:
    users.audit(fresh, "kate", "sign_out", "from test")
    frame = users.recent_audit(fresh, limit=1)
    assert frame.iloc[0][["username", "event", "detail"]].tolist() == ["kate", "sign_out", "from test"]


def test_demo_accounts_are_idempotent_and_scoped(fresh: sa.Engine) -> None:
    assert sorted(users.ensure_demo_accounts(fresh)) == ["admin", "board", "fundraiser", "lead"]
    assert users.ensure_demo_accounts(fresh) == []
    assert {u.role for u in users.list_users(fresh)} == set(users.ROLES)
    for account in users.DEMO_ACCOUNTS:
        assert users.verify_login(fresh, account.username, account.password, now=T0) is not None
    assert users.get_user(fresh, "lead").affiliate_ids == frozenset({"AA-FIRST"})  # first alphabetically


def test_demo_lead_prefers_charlotte(tmp_path: Path) -> None:
    e = db.create_engine(f"sqlite:///{tmp_path / 'd.sqlite3'}")
    migrate.upgrade(e)
    users.ensure_demo_accounts(e)
    assert users.get_user(e, "lead") is None  # no affiliates yet
    _add_affiliates(e, "AA-FIRST", users.DEMO_LEAD_AFFILIATE)
    assert users.ensure_demo_accounts(e) == ["lead"]
    assert users.get_user(e, "lead").scope.affiliates == frozenset({users.DEMO_LEAD_AFFILIATE})


def test_add_verify_and_lockout_on_each_database(engine: sa.Engine) -> None:
    name = _name()
    affiliate = None
    with engine.connect() as conn:
        affiliate = conn.execute(sa.select(db.affiliates.c.affiliate_id).limit(1)).scalar_one()
    users.add_user(engine, name, "Pat", "pat@example.org", PASSWORD, "affiliate_lead", [affiliate])
    user = users.verify_login(engine, name, PASSWORD, now=T0)
    assert user is not None and user.scope.affiliates == frozenset({affiliate})
    for _ in range(3):
        assert users.verify_login(engine, name, "wrong-password", now=T0) is None
    assert users.verify_login(engine, name, PASSWORD, now=T0 + timedelta(minutes=5)) is None
    assert users.verify_login(engine, name, PASSWORD, now=T0 + timedelta(minutes=15, seconds=1)) is not None
    assert _events(engine, name) == [users.ADDED, users.SIGNED_IN] + [users.FAILED] * 3 + [
        users.LOCKED_OUT,
        users.REFUSED_LOCKED,
        users.SIGNED_IN,
    ]
    users.remove_user(engine, name)
    assert users.get_user(engine, name) is None


def _cli(db_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DASHBOARD_DATABASE_URL": db_url}
    return subprocess.run(
        [sys.executable, "-c", CLI, "users", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_add_list_never_shows_the_password(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    secret = "s3cret-cli-password"
    added = _cli(url, "add", "mona", "--name", "Mona Lisa", "--email", "m@example.org", "--role", "board",
                 "--password-stdin", stdin=secret + "\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = _cli(url, "list")
    assert listed.returncode == 0, listed.stderr
    assert "mona" in listed.stdout and "Mona Lisa" in listed.stdout and "board" in listed.stdout
    assert "LOCKED" in listed.stdout
    for out in (added.stdout, added.stderr, listed.stdout, listed.stderr):
        assert secret not in out
    e = db.create_engine(url)
    user = users.verify_login(e, "mona", secret, now=T0)
    assert user is not None and user.name == "Mona Lisa"


def test_cli_errors_are_one_line_and_exit_1(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    short = _cli(url, "add", "nina", "--name", "Nina", "--email", "n@example.org", "--role", "admin",
                 "--password-stdin", stdin="tiny\n")  # fmt: skip
    assert short.returncode == 1
    assert short.stderr.startswith("error: password is too short") and "tiny" not in short.stderr + short.stdout
    missing = _cli(url, "remove", "nobody")
    assert missing.returncode == 1 and missing.stderr.startswith("error: no user")


def test_sign_out_and_password_reset_end_the_sessions_issued_before_them(fresh: sa.Engine) -> None:
    users.add_user(fresh, "copier", "Copy Cat", "copy@example.org", "a long test password", "board")
    issued = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert users.get_user(fresh, "copier").accepts_session(issued)

    users.end_sessions(fresh, "copier", now=issued + timedelta(minutes=5))
    user = users.get_user(fresh, "copier")
    assert not user.accepts_session(issued)
    assert user.accepts_session(issued + timedelta(minutes=6))

    later = datetime.now(UTC)
    users.reset_password(fresh, "copier", "another long password")
    assert not users.get_user(fresh, "copier").accepts_session(later)
    assert users.get_user(fresh, "copier").accepts_session(datetime.now(UTC) + timedelta(seconds=1))


def _storm(engine: sa.Engine, username: str, passwords: list[str]) -> list[users.User | None]:
    """verify_login of every password at once, each thread on its own engine (so its own connection)."""
    url = engine.url.render_as_string(hide_password=False)
    engines = [db.create_engine(url) for _ in passwords]
    barrier = threading.Barrier(len(passwords))

    def attempt(i: int) -> users.User | None:
        barrier.wait()
        return users.verify_login(engines[i], username, passwords[i])

    try:
        with ThreadPoolExecutor(max_workers=len(passwords)) as pool:
            return list(pool.map(attempt, range(len(passwords))))
    finally:
        for e in engines:
            e.dispose()


def test_simultaneous_wrong_passwords_lock_before_the_right_one_is_checked(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHBOARD_MAX_FAILED_LOGINS", "5")
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 8)  # a check long enough for the attempts to overlap
    name = _name()
    users.add_user(engine, name, "Storm", "storm@example.org", PASSWORD, "board")
    results = _storm(engine, name, [f"wrong-password-{i}" for i in range(15)] + [PASSWORD])

    events = _events(engine, name)
    checked = events.count(users.FAILED) + events.count(users.SIGNED_IN)
    assert checked == 5  # only five passwords were ever compared; the other eleven met the lock
    assert events.count(users.REFUSED_LOCKED) == 11
    assert name in users.locked_accounts(engine)
    assert sum(r is not None for r in results) == events.count(users.SIGNED_IN) <= 1
    assert users.verify_login(engine, name, PASSWORD) is None  # and the right password is refused while locked
    assert _events(engine, name)[-1] == users.REFUSED_LOCKED


def test_a_right_password_in_flight_does_not_lift_the_lock_that_turned_others_away(
    fresh: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    users.add_user(fresh, "olga", "Olga", "o@example.org", PASSWORD, "board")
    for _ in range(2):
        users.verify_login(fresh, "olga", "wrong-password", now=T0)
    checking, release = threading.Event(), threading.Event()
    real = users._matches

    def slow(password: str, password_hash: str | bytes | None) -> bool:
        if password == PASSWORD:
            checking.set()
            release.wait(10)
        return real(password, password_hash)

    monkeypatch.setattr(users, "_matches", slow)
    with ThreadPoolExecutor(max_workers=1) as pool:
        right = pool.submit(users.verify_login, fresh, "olga", PASSWORD, T0)
        assert checking.wait(10)  # the third attempt is claimed: the account is locked while it is checked
        for _ in range(2):
            assert users.verify_login(fresh, "olga", "wrong-password", now=T0) is None
        release.set()
        assert right.result(10) is not None  # it was the third attempt, so it signs in
    assert _events(fresh, "olga")[-3:] == [users.REFUSED_LOCKED, users.REFUSED_LOCKED, users.SIGNED_IN]
    assert "olga" in users.locked_accounts(fresh, now=T0)  # the two turned away keep the lock
    assert _row(fresh, "olga").failed_attempts == 2


def test_an_unknown_username_locks_like_an_account(engine: sa.Engine) -> None:
    account, ghost = _name(), _name()
    users.add_user(engine, account, "Real", "real@example.org", PASSWORD, "board")
    for name in (account, ghost):
        for i in range(3):
            assert users.lock_ends(engine, name, now=T0) is None
            assert users.verify_login(engine, name, "wrong-password", now=T0 + timedelta(seconds=i)) is None
        assert users.lock_ends(engine, name, now=T0 + timedelta(minutes=1)) == T0 + timedelta(seconds=2, minutes=15)
        assert users.verify_login(engine, name, PASSWORD, now=T0 + timedelta(minutes=1)) is None
    expected = [users.FAILED] * 3 + [users.LOCKED_OUT, users.REFUSED_LOCKED]
    assert _events(engine, account) == [users.ADDED, *expected]
    assert _events(engine, ghost) == expected
    later = T0 + timedelta(minutes=16)  # and both count afresh once the lock has run out
    assert users.verify_login(engine, ghost, "wrong-password", now=later) is None
    assert users.lock_ends(engine, ghost, now=later) is None
    assert users.locked_accounts(engine, now=T0 + timedelta(minutes=1)).keys() >= {account}
    assert ghost not in users.locked_accounts(engine, now=T0 + timedelta(minutes=1))  # the admin list: accounts only


def test_simultaneous_attempts_on_an_unknown_username_lock_it(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHBOARD_MAX_FAILED_LOGINS", "5")
    ghost = _name()
    assert _storm(engine, ghost, [f"guess-{i}" for i in range(16)]) == [None] * 16
    events = _events(engine, ghost)
    assert events.count(users.FAILED) == 5 and events.count(users.REFUSED_LOCKED) == 11
    assert users.lock_ends(engine, ghost) is not None


@pytest.mark.parametrize("username", ["x" * 200, "nul\x00name", "Capital Letters"])
def test_names_that_cannot_be_accounts_are_counted_too(engine: sa.Engine, username: str) -> None:
    for _ in range(3):
        assert users.verify_login(engine, username, "wrong-password", now=T0) is None
    assert users.lock_ends(engine, username, now=T0) is not None
