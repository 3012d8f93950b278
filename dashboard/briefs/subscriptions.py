"""Briefs sent by email: admins subscribe accounts to a place's brief, and `python -m dashboard briefs send` (run
from cron) mails each recipient the briefs that are due, each made within that recipient's own scope.

A recipient the mail server refuses, or a brief that cannot be made for them (a place outside their scope, an
account since removed), is recorded on the subscription and left due: the next run tries again, and the other
recipients are sent regardless."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage

import pandas as pd
import sqlalchemy as sa

from dashboard import config
from dashboard.briefs import content, pdf, slides
from dashboard.data import queries, users
from dashboard.data.db import brief_subscriptions

CADENCES = ("monthly", "after_load")
FORMATS = {"pdf": (pdf, "application", "pdf"),
           "pptx": (slides, "application", "vnd.openxmlformats-officedocument.presentationml.presentation")}  # fmt: skip
SENT = "brief_sent"
SEND_FAILED = "brief_send_failed"
SUBSCRIBED = "brief_subscribed"
UNSUBSCRIBED = "brief_unsubscribed"


def place_key(place: content.Place) -> str:
    """How a place is stored: '' the nation, 'state:NC', 'affiliate:NC-CHARLOTTE'."""
    return f"affiliate:{place.affiliate}" if place.affiliate else f"state:{place.state}" if place.state else ""


def place_of(key: str) -> content.Place:
    kind, _, value = key.partition(":")
    return content.Place(affiliate=value) if kind == "affiliate" else content.Place(state=value or None)


def subscribe(engine: sa.Engine, username: str, place: content.Place, fmt: str = "pdf", cadence: str = "monthly",
              now: datetime | None = None) -> int:  # fmt: skip
    """Subscribe an account to a place's brief; returns the subscription id. The account must exist and may see
    the place (a lead only its own affiliates)."""
    if fmt not in FORMATS or cadence not in CADENCES:
        raise ValueError(f"format must be one of {sorted(FORMATS)} and cadence one of {list(CADENCES)}")
    user = users.get_user(engine, username)
    if user is None:
        raise ValueError(f"no account {username!r}")
    scope = user.scope
    if scope.affiliates is not None and place.affiliate not in scope.affiliates:
        raise ValueError(
            f"{username} may only receive briefs of its own affiliates ({', '.join(sorted(scope.affiliates))})"
        )
    c = brief_subscriptions.c
    with engine.begin() as conn:
        same = sa.select(c.subscription_id).where(c.username == username, c.place == place_key(place), c.format == fmt)
        if conn.execute(same).first() is not None:
            raise ValueError(f"{username} already has this brief in {fmt}")
        return int(conn.execute(brief_subscriptions.insert().values(
            username=username, place=place_key(place), format=fmt, cadence=cadence, created_at=now or datetime.now(UTC),
        )).inserted_primary_key[0])  # fmt: skip


def unsubscribe(engine: sa.Engine, subscription_id: int) -> bool:
    """Remove a subscription; False when there was none with that id."""
    with engine.begin() as conn:
        return conn.execute(brief_subscriptions.delete().where(
            brief_subscriptions.c.subscription_id == subscription_id)).rowcount > 0  # fmt: skip


def listed(engine: sa.Engine) -> pd.DataFrame:
    """Every subscription with its state: id, account, place, format, cadence, last sent, failures, last error."""
    return queries.read_frame(engine, sa.select(*brief_subscriptions.c).order_by(brief_subscriptions.c.subscription_id))


def _utc(value: datetime | None) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def is_due(row: pd.Series, newest_load: int | None, now: datetime) -> bool:
    """Monthly: not yet sent this calendar month. After each load: a load newer than the last one sent."""
    last = _utc(row["last_sent_at"])
    if row["cadence"] == "monthly":
        return last is None or (last.year, last.month) < (now.year, now.month)
    sent_load = None if pd.isna(row["last_sent_load"]) else int(row["last_sent_load"])
    return newest_load is not None and (sent_load is None or newest_load > sent_load)


@dataclass
class SendReport:
    """What one run did: messages sent (per recipient), briefs attached, and failures (subscription id, reason)."""

    sent: list[str] = field(default_factory=list)
    briefs: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


def _connect() -> smtplib.SMTP:
    host, port = str(config.get("smtp_host")), int(config.get("smtp_port"))
    security = str(config.get("smtp_security"))
    if security not in ("starttls", "ssl", "none"):
        raise config.ConfigError(f"smtp_security must be starttls, ssl or none, not {security!r}")
    if security == "ssl":
        server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, context=ssl.create_default_context(), timeout=30)
    else:
        server = smtplib.SMTP(host, port, timeout=30)
        if security == "starttls":
            server.starttls(context=ssl.create_default_context())
    if config.get("smtp_username"):
        server.login(str(config.get("smtp_username")), str(config.get("smtp_password")))
    return server


def send(engine: sa.Engine, now: datetime | None = None) -> SendReport:
    """Mail every recipient the briefs that are due, one message each, and record the outcome per subscription."""
    if not config.get("smtp_host"):
        raise config.ConfigError("no mail server: set DASHBOARD_SMTP_HOST (and the other smtp_ settings)")
    now = now or datetime.now(UTC)
    as_of = queries.data_as_of(engine)
    newest = as_of[0] if as_of else None
    years = queries.school_years_available(engine)
    rows = listed(engine)
    due = rows[[is_due(r, newest, now) for _, r in rows.iterrows()]] if len(rows) else rows
    report = SendReport()
    if due.empty or not years:
        return report
    sender = str(config.get("smtp_sender")) or "briefs@localhost"
    with _connect() as server:
        for username, mine in due.groupby("username", sort=True):
            user = users.get_user(engine, str(username))
            if user is None:
                for subscription in mine["subscription_id"]:
                    _failed(engine, int(subscription), "the account no longer exists", report)
                continue
            message = EmailMessage()
            message["From"], message["Subject"] = sender, f"Your impact briefs, school year {years[-1]}"
            attached, names, files = [], [], []
            for _, sub in mine.iterrows():
                place = place_of(sub["place"])
                try:
                    # Made within the recipient's own scope, so a lead never receives another affiliate's figures.
                    brief = content.build(engine, place, years[-1], user.scope)
                except content.BriefError as exc:
                    _failed(engine, int(sub["subscription_id"]), str(exc), report)
                    continue
                module, maintype, subtype = FORMATS[sub["format"]]
                name = f"brief-{place.affiliate or place.state or 'nation'}-{years[-1]}.{sub['format']}"
                files.append((module.render(brief), maintype, subtype, name))
                attached.append(int(sub["subscription_id"]))
                names.append(f"{brief.place} ({sub['format'].upper()})")
            if not attached:
                continue
            message["To"] = user.email
            message.set_content(f"Hello {user.name},\n\nAttached: {', '.join(names)}, school year {years[-1]}.\n")
            for body, maintype, subtype, name in files:
                message.add_attachment(body, maintype=maintype, subtype=subtype, filename=name)
            try:
                server.send_message(message)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                for subscription in attached:
                    _failed(engine, subscription, f"the mail server refused it: {_reason(exc)}", report)
                continue
            with engine.begin() as conn:
                conn.execute(brief_subscriptions.update().where(brief_subscriptions.c.subscription_id.in_(attached))
                             .values(last_sent_at=now, last_sent_load=newest, failures=0, last_error=None))  # fmt: skip
            users.audit(engine, str(username), SENT, ", ".join(names))
            report.sent.append(user.email)
            report.briefs += len(attached)
    return report


def _reason(exc: smtplib.SMTPException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    code, text = getattr(exc, "smtp_code", ""), getattr(exc, "smtp_error", b"")
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"


def _failed(engine: sa.Engine, subscription_id: int, reason: str, report: SendReport) -> None:
    """Record a failed send on its subscription, which stays due."""
    with engine.begin() as conn:
        row = conn.execute(sa.select(brief_subscriptions.c.username).where(
            brief_subscriptions.c.subscription_id == subscription_id)).one()  # fmt: skip
        conn.execute(brief_subscriptions.update().where(brief_subscriptions.c.subscription_id == subscription_id)
                     .values(failures=brief_subscriptions.c.failures + 1, last_error=reason))  # fmt: skip
    users.audit(engine, row.username, SEND_FAILED, f"subscription {subscription_id}: {reason}")
    report.failed.append((subscription_id, reason))
