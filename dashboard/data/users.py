"""Accounts: bcrypt passwords, roles and affiliate scope, sign-in with lockout, and the audit log."""

from __future__ import annotations

import argparse
import functools
import getpass
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import bcrypt
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from dashboard import config
from dashboard.data import db, migrate
from dashboard.data.queries import Scope

ROLES: tuple[str, ...] = ("admin", "board", "fundraiser", "affiliate_lead")
USERNAME_RE = re.compile(r"[a-z0-9_.-]{2,40}")
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_BYTES = 72
BCRYPT_ROUNDS = 12  # tests may lower this; checkpw always uses the cost stored in the hash

# Audit events.
ADDED = "user_added"
SIGNED_IN = "login"
FAILED = "login_failed"
LOCKED_OUT = "lockout"
REFUSED_LOCKED = "login_refused_locked"
ROLE_CHANGED = "role_changed"
REMOVED = "user_removed"
PASSWORD_RESET = "password_reset"
DOWNLOADED = "download"
SSO_SIGNED_IN = "login_sso"
SSO_REFUSED = "login_sso_refused"
IDLE_SIGNED_OUT = "logout_idle"


class UserExists(ValueError):
    """An account with this username already exists."""


@dataclass(frozen=True)
class User:
    """A signed-in (or listed) account, without its password hash."""

    username: str
    name: str
    email: str
    role: str
    affiliate_ids: frozenset[str] = frozenset()
    sessions_valid_after: datetime | None = None

    def accepts_session(self, issued_at: datetime) -> bool:
        """Whether a sign-in issued at `issued_at` is still good (not ended by a sign-out or reset since)."""
        return self.sessions_valid_after is None or issued_at > self.sessions_valid_after

    @property
    def scope(self) -> Scope:
        """The schools this user may see: everything, or an affiliate lead's own affiliates."""
        if self.role == "affiliate_lead":
            return Scope(frozenset(self.affiliate_ids))
        return Scope.everything()


@dataclass(frozen=True)
class DemoAccount:
    """One demo account with its published demo password."""

    username: str
    name: str
    email: str
    role: str
    password: str


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("admin", "Demo Administrator", "admin@example.org", "admin", "demo-admin-pass"),
    DemoAccount("board", "Demo Board Member", "board@example.org", "board", "demo-board-pass"),
    DemoAccount("fundraiser", "Demo Fundraiser", "fundraiser@example.org", "fundraiser", "demo-fundraiser-pass"),
    DemoAccount("lead", "Demo Affiliate Lead", "lead@example.org", "affiliate_lead", "demo-lead-pass"),
)
DEMO_LEAD_AFFILIATE = "NC-CHARLOTTE"


def _utc(value: datetime | None) -> datetime | None:
    """The datetime as timezone-aware UTC (SQLite hands back naive values)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _now(now: datetime | None = None) -> datetime:
    """The given moment, or the current one, as aware UTC."""
    return _utc(now) or datetime.now(UTC)


def _check_username(username: str) -> str:
    """The username, or ValueError when it is not 2-40 of a-z 0-9 _ . -."""
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        raise ValueError(
            f"username {username!r} is not valid: use 2 to 40 characters from lower-case letters, digits, _ . -"
        )
    return username


def _check_password(password: str) -> bytes:
    """The password as UTF-8 bytes, or ValueError when it is too short or too long for bcrypt."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password is too short: use at least {MIN_PASSWORD_CHARS} characters")
    raw = password.encode("utf-8")
    if len(raw) > MAX_PASSWORD_BYTES:
        raise ValueError(f"password is too long: bcrypt uses at most {MAX_PASSWORD_BYTES} bytes (UTF-8)")
    return raw


def _hash(password: str) -> str:
    """A bcrypt hash of the validated password."""
    return bcrypt.hashpw(_check_password(password), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode("ascii")


@functools.cache
def _dummy_hash(rounds: int) -> bytes:
    """A hash of a random secret, checked for unknown usernames so they take as long as real ones."""
    return bcrypt.hashpw(b"no-such-user-dummy-password", bcrypt.gensalt(rounds=rounds))


def _matches(password: str, password_hash: str | bytes | None) -> bool:
    """Whether the password matches the hash; always spends one bcrypt check."""
    raw = password.encode("utf-8") if isinstance(password, str) else b""
    if password_hash is None:
        bcrypt.checkpw(raw[:MAX_PASSWORD_BYTES], _dummy_hash(BCRYPT_ROUNDS))
        return False
    stored = password_hash.encode("ascii") if isinstance(password_hash, str) else password_hash
    if len(raw) > MAX_PASSWORD_BYTES:
        bcrypt.checkpw(raw[:MAX_PASSWORD_BYTES], stored)  # same cost, never a match
        return False
    try:
        return bcrypt.checkpw(raw, stored)
    except ValueError:  # a corrupt stored hash
        return False


def _sign_in_name(username: object) -> str:
    """A typed username as it is counted and audited: text without NUL characters, at most 80 characters."""
    return username.replace("\x00", "")[:80] if isinstance(username, str) else ""


def _join_ids(ids: Iterable[str]) -> str:
    """Affiliate ids as the stored comma-separated text."""
    return ",".join(sorted(set(ids)))


def _split_ids(text: str | None) -> frozenset[str]:
    """The stored comma-separated affiliate ids as a set."""
    return frozenset(i for i in (text or "").split(",") if i)


def _check_role(conn: sa.Connection, role: str, affiliate_ids: Iterable[str]) -> frozenset[str]:
    """The affiliate ids to store for this role, or ValueError when role or ids are wrong."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    ids = frozenset(str(i).strip() for i in affiliate_ids if str(i).strip())
    if role != "affiliate_lead":
        if ids:
            raise ValueError(f"only affiliate_lead accounts have affiliates; role {role!r} sees every school")
        return ids
    if not ids:
        raise ValueError("an affiliate_lead needs at least one affiliate id")
    found = set(
        conn.execute(sa.select(db.affiliates.c.affiliate_id).where(db.affiliates.c.affiliate_id.in_(sorted(ids))))
        .scalars()
        .all()
    )
    missing = sorted(ids - found)
    if missing:
        raise ValueError(f"unknown affiliate id(s): {', '.join(missing)}")
    return ids


def _user(row: sa.Row) -> User:
    """A User from a users-table row."""
    return User(
        row.username, row.name, row.email, row.role, _split_ids(row.affiliate_ids), _utc(row.sessions_valid_after)
    )


def _audit(conn: sa.Connection, username: str, event: str, detail: str = "", at: datetime | None = None) -> None:
    """Write one audit row inside the caller's transaction."""
    conn.execute(
        db.audit_log.insert().values(
            at=_now(at), username=str(username)[:80], event=event[:40], detail=str(detail)[:2000]
        )
    )


def _require(conn: sa.Connection, username: str) -> sa.Row:
    """The user's row, locked for update where the database supports it, or ValueError."""
    row = conn.execute(sa.select(db.users).where(db.users.c.username == username).with_for_update()).one_or_none()
    if row is None:
        raise ValueError(f"no user {username!r}")
    return row


def audit(engine: sa.Engine, username: str, event: str, detail: str = "") -> None:
    """Write one row to the audit log."""
    with engine.begin() as conn:
        _audit(conn, username, event, detail)


def recent_audit(engine: sa.Engine, limit: int = 200) -> pd.DataFrame:
    """The newest audit rows first: at, username, event, detail."""
    t = db.audit_log
    query = sa.select(t.c.at, t.c.username, t.c.event, t.c.detail).order_by(t.c.at.desc(), t.c.event_id.desc())
    with engine.connect() as conn:
        rows = conn.execute(query.limit(int(limit))).all()
    frame = pd.DataFrame(rows, columns=["at", "username", "event", "detail"])
    if not frame.empty:
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def add_user(
    engine: sa.Engine,
    username: str,
    name: str,
    email: str,
    password: str,
    role: str,
    affiliate_ids: Iterable[str] = (),
    by: str = "system",
) -> User:
    """Create an account; ValueError (UserExists for duplicates) when anything is invalid."""
    _check_username(username)
    if not name or not name.strip():
        raise ValueError("name must not be empty")
    if not email or "@" not in email:
        raise ValueError(f"email {email!r} is not an email address")
    password_hash = _hash(password)
    try:
        with engine.begin() as conn:
            ids = _check_role(conn, role, affiliate_ids)
            exists = conn.execute(sa.select(db.users.c.username).where(db.users.c.username == username)).first()
            if exists:
                raise UserExists(f"user {username!r} already exists")
            conn.execute(
                db.users.insert().values(
                    username=username,
                    name=name.strip(),
                    email=email.strip(),
                    password_hash=password_hash,
                    role=role,
                    affiliate_ids=_join_ids(ids),
                    failed_attempts=0,
                    locked_until=None,
                )
            )
            _audit(conn, username, ADDED, f"role={role} affiliates={_join_ids(ids)} by={by}")
    except sa.exc.IntegrityError:
        raise UserExists(f"user {username!r} already exists") from None
    return User(username, name.strip(), email.strip(), role, ids)


def get_user(engine: sa.Engine, username: str) -> User | None:
    """The account with this username, or None."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.users).where(db.users.c.username == username)).one_or_none()
    return _user(row) if row is not None else None


def account_for_identity(engine: sa.Engine, email: str, verified: bool) -> tuple[User | None, str]:
    """(the account a single sign-on identity maps to, or None; why it was refused, or '').

    The identity provider vouches for the email; the account with that email (compared without case) decides role
    and scope. Refused: an email the provider does not call verified, one no account has, one several accounts
    share (which of them would be a guess)."""
    email = email.strip().lower()
    if not email:
        return None, "the identity provider sent no email address"
    if not verified:
        return None, f"the identity provider does not vouch that {email} is verified"
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.users).where(sa.func.lower(db.users.c.email) == email)).all()
    if not rows:
        return None, f"no account of this dashboard has the email {email}"
    if len(rows) > 1:
        return None, f"{len(rows)} accounts share the email {email}; an administrator must give each its own"
    return _user(rows[0]), ""


def list_users(engine: sa.Engine) -> list[User]:
    """Every account, by username."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.users).order_by(db.users.c.username)).all()
    return [_user(r) for r in rows]


def locked_accounts(engine: sa.Engine, now: datetime | None = None) -> dict[str, datetime]:
    """Usernames locked at `now`, with when each lock ends."""
    moment = _now(now)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(db.users.c.username, db.users.c.locked_until).where(db.users.c.locked_until.is_not(None))
        ).all()
    return {r.username: until for r in rows if (until := _utc(r.locked_until)) is not None and until > moment}


def set_role(
    engine: sa.Engine,
    username: str,
    role: str,
    affiliate_ids: Iterable[str] | None = None,
    by: str = "system",
) -> User:
    """Change an account's role; affiliate_ids=None keeps a lead's affiliates (and clears them otherwise)."""
    with engine.begin() as conn:
        row = _require(conn, username)
        if affiliate_ids is None:
            affiliate_ids = _split_ids(row.affiliate_ids) if role == "affiliate_lead" else ()
        ids = _check_role(conn, role, affiliate_ids)
        conn.execute(
            db.users.update().where(db.users.c.username == username).values(role=role, affiliate_ids=_join_ids(ids))
        )
        _audit(
            conn,
            username,
            ROLE_CHANGED,
            f"{row.role}[{row.affiliate_ids}] -> {role}[{_join_ids(ids)}] by={by}",
        )
    return User(row.username, row.name, row.email, role, ids)


def reset_password(engine: sa.Engine, username: str, password: str, by: str = "system") -> None:
    """Set a new password and clear any lockout."""
    password_hash = _hash(password)
    with engine.begin() as conn:
        _require(conn, username)
        conn.execute(
            db.users.update()
            .where(db.users.c.username == username)
            .values(password_hash=password_hash, failed_attempts=0, locked_until=None, sessions_valid_after=_now())
        )
        _audit(conn, username, PASSWORD_RESET, f"by={by}")


def end_sessions(engine: sa.Engine, username: str, now: datetime | None = None) -> None:
    """Refuse every sign-in cookie of this account issued up to now (a copied cookie stops working)."""
    with engine.begin() as conn:
        conn.execute(db.users.update().where(db.users.c.username == username).values(sessions_valid_after=_now(now)))


def remove_user(engine: sa.Engine, username: str, by: str = "system") -> None:
    """Delete an account (its audit rows stay)."""
    with engine.begin() as conn:
        row = _require(conn, username)
        # Its emailed briefs go with it (the foreign key cascades too, where SQLite enforces it).
        conn.execute(db.brief_subscriptions.delete().where(db.brief_subscriptions.c.username == username))
        conn.execute(db.users.delete().where(db.users.c.username == username))
        _audit(conn, username, REMOVED, f"role={row.role} by={by}")


def _count_unknown(conn: sa.Connection, key: str) -> sa.Row:
    """The failure counter of a username that is no account, created at zero and held for update."""
    table = db.unknown_sign_ins
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(table).values(username=key, failed_attempts=0).on_conflict_do_nothing())
    return conn.execute(sa.select(table).where(table.c.username == key).with_for_update()).one()


def _claim_attempt(
    engine: sa.Engine, username: str, moment: datetime, max_failed: int, lockout: timedelta
) -> tuple[sa.Row | None, int | None, datetime | None]:
    """The account's row (None: no such account), this attempt's number (None: refused, locked) and the lock it set.

    The attempt is counted as failed before its password is checked, in a transaction that holds the row (or, on
    SQLite, the database) from its first statement: simultaneous attempts each see the others' counts, so no more
    than max_failed passwords are ever compared before the lock. bcrypt runs after this commits, holding nothing.
    A username that is no account is counted the same way in its own table, so it locks after as many failures.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # SQLite ignores FOR UPDATE: take the write lock before reading
        row = None
        if USERNAME_RE.fullmatch(username):  # anything else can't be an account (nor be bound on PostgreSQL)
            query = sa.select(db.users).where(db.users.c.username == username).with_for_update()
            row = conn.execute(query).one_or_none()
        table, counter = (db.users, row) if row is not None else (db.unknown_sign_ins, _count_unknown(conn, username))
        where = table.c.username == counter.username
        known = "" if row is not None else "unknown user, "
        locked_until = _utc(counter.locked_until)
        if locked_until is not None and locked_until > moment:
            # Counted although refused: a right password already in flight when the lock was set then leaves the
            # lock in place for the attempts it turned away.
            conn.execute(table.update().where(where).values(failed_attempts=table.c.failed_attempts + 1))
            _audit(conn, username, REFUSED_LOCKED, f"{known}locked until {locked_until.isoformat()}", at=moment)
            return row, None, locked_until
        attempt = 1 if locked_until is not None else int(counter.failed_attempts or 0) + 1  # an expired lock: afresh
        until = moment + lockout if attempt >= max_failed else None
        conn.execute(table.update().where(where).values(failed_attempts=attempt, locked_until=until))
        return row, attempt, until


def verify_login(engine: sa.Engine, username: str, password: str, now: datetime | None = None) -> User | None:
    """The user when the password is right and the account is not locked; else None. Audited."""
    moment = _now(now)
    max_failed = max(1, int(config.get("max_failed_logins")))
    lockout = timedelta(minutes=float(config.get("lockout_minutes")))
    username = _sign_in_name(username)
    row, attempt, until = _claim_attempt(engine, username, moment, max_failed, lockout)
    ok = _matches(password, row.password_hash if row is not None else None)  # the same time on every path
    if attempt is None:
        return None  # locked: refused and audited when claimed
    known = "" if row is not None else "unknown user, "
    with engine.begin() as conn:
        if row is not None and ok:
            # Forget the failures up to this attempt; those claimed since stay counted, with any lock they set.
            failed = db.users.c.failed_attempts
            conn.execute(
                db.users.update()
                .where(db.users.c.username == username)
                .values(
                    failed_attempts=sa.case((failed > attempt, failed - attempt), else_=0),
                    locked_until=sa.case((failed > attempt, db.users.c.locked_until), else_=sa.null()),
                )
            )
            _audit(conn, username, SIGNED_IN, at=moment)
            return _user(row)
        _audit(conn, username, FAILED, f"{known}attempt {attempt} of {max_failed}", at=moment)
        if until is not None:
            _audit(conn, username, LOCKED_OUT, f"{known}locked until {until.isoformat()}", at=moment)
        return None


def lock_ends(engine: sa.Engine, username: str, now: datetime | None = None) -> datetime | None:
    """When the sign-in lock on this username ends, whether or not it is an account; None when it is not locked."""
    key = _sign_in_name(username)
    with engine.connect() as conn:
        until = None
        if USERNAME_RE.fullmatch(key):
            until = conn.execute(sa.select(db.users.c.locked_until).where(db.users.c.username == key)).first()
        if until is None:
            table = db.unknown_sign_ins
            until = conn.execute(sa.select(table.c.locked_until).where(table.c.username == key)).first()
    moment = _utc(until[0]) if until is not None else None
    return moment if moment is not None and moment > _now(now) else None


def ensure_demo_accounts(engine: sa.Engine) -> list[str]:
    """Create the missing demo accounts (one per role); returns the usernames created."""
    with engine.connect() as conn:
        lead_affiliate = conn.execute(
            sa.select(db.affiliates.c.affiliate_id).where(db.affiliates.c.affiliate_id == DEMO_LEAD_AFFILIATE)
        ).scalar_one_or_none()
        if lead_affiliate is None:
            lead_affiliate = conn.execute(
                sa.select(db.affiliates.c.affiliate_id).order_by(db.affiliates.c.affiliate_id).limit(1)
            ).scalar_one_or_none()
    created: list[str] = []
    for account in DEMO_ACCOUNTS:
        if get_user(engine, account.username) is not None:
            continue
        ids: tuple[str, ...] = ()
        if account.role == "affiliate_lead":
            if lead_affiliate is None:
                continue  # no affiliates loaded yet; a later call creates it
            ids = (lead_affiliate,)
        try:
            add_user(
                engine, account.username, account.name, account.email, account.password, account.role, ids, by="demo"
            )
        except UserExists:
            continue  # another process created it first
        created.append(account.username)
    return created


def _read_password(args: argparse.Namespace) -> str:
    """The new password from stdin (--password-stdin) or an interactive prompt; never echoed."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise ValueError("the passwords do not match")
    if not password:
        raise ValueError("no password given")
    return password


def _cmd_list(engine: sa.Engine) -> None:
    """Print every account as a table: username, name, role, affiliates, locked status."""
    locked = locked_accounts(engine)
    rows = [("USERNAME", "NAME", "ROLE", "AFFILIATES", "LOCKED")]
    for u in list_users(engine):
        until = locked.get(u.username)
        status = f"until {until:%Y-%m-%d %H:%M} UTC" if until else "no"
        rows.append((u.username, u.name, u.role, ",".join(sorted(u.affiliate_ids)) or "-", status))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())


def cmd_users(args: argparse.Namespace) -> int:
    """Run one `users` action; 0 on success, 1 on invalid input, 2 on bad configuration."""
    try:
        engine = db.create_engine(args.database_url)
        migrate.upgrade(engine)
        action = args.action
        if action == "add":
            password = _read_password(args)
            user = add_user(
                engine, args.username, args.name, args.email, password, args.role, args.affiliate, by=args.by
            )
            print(f"added {user.username} ({user.role})")
        elif action == "list":
            _cmd_list(engine)
        elif action == "set-role":
            ids = args.affiliate if args.affiliate else None
            user = set_role(engine, args.username, args.role, ids, by=args.by)
            scope = f" for {','.join(sorted(user.affiliate_ids))}" if user.affiliate_ids else ""
            print(f"{user.username} is now {user.role}{scope}")
        elif action == "reset-password":
            if get_user(engine, args.username) is None:
                raise ValueError(f"no user {args.username!r}")
            reset_password(engine, args.username, _read_password(args), by=args.by)
            print(f"password reset for {args.username}")
        elif action == "remove":
            remove_user(engine, args.username, by=args.by)
            print(f"removed {args.username}")
        return 0
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except config.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add the `users` command (add, list, set-role, reset-password, remove) to a CLI."""
    p = subparsers.add_parser("users", help="dashboard accounts")
    actions = p.add_subparsers(dest="action", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--database-url", default=None, help="defaults to DASHBOARD_DATABASE_URL or the embedded SQLite file"
        )
        q.add_argument("--by", default="cli", help="who is making the change, for the audit log")
        q.set_defaults(func=cmd_users)

    q = actions.add_parser("add", help="create an account (password prompted, or read from stdin)")
    q.add_argument("username")
    q.add_argument("--name", required=True)
    q.add_argument("--email", required=True)
    q.add_argument("--role", required=True, choices=ROLES)
    q.add_argument("--affiliate", action="append", default=[], help="affiliate id (affiliate_lead; repeatable)")
    q.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    common(q)

    q = actions.add_parser("list", help="list accounts")
    common(q)

    q = actions.add_parser("set-role", help="change an account's role")
    q.add_argument("username")
    q.add_argument("role", choices=ROLES)
    q.add_argument("--affiliate", action="append", default=[], help="affiliate id (affiliate_lead; repeatable)")
    common(q)

    q = actions.add_parser("reset-password", help="set a new password and clear any lockout")
    q.add_argument("username")
    q.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    common(q)

    q = actions.add_parser("remove", help="delete an account")
    q.add_argument("username")
    common(q)
