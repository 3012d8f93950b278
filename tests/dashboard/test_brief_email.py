"""Briefs by email (issue 13) against a local SMTP server (aiosmtpd on 127.0.0.1), every message read back."""

from __future__ import annotations

import email
import email.policy
import io
import socket
from datetime import UTC, datetime
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from pptx import Presentation
from pypdf import PdfReader

from dashboard.briefs import content, subscriptions
from dashboard.data import users

PASSWORD = "a-long-test-password-1"
REFUSED = "refused@example.org"


class Inbox:
    """An SMTP handler that keeps every message and refuses mail to REFUSED while `refusing`."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refusing = True

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refusing and address == REFUSED:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch):
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    monkeypatch.setenv("DASHBOARD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DASHBOARD_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("DASHBOARD_SMTP_SECURITY", "none")
    monkeypatch.setenv("DASHBOARD_SMTP_SENDER", "briefs@example.org")
    yield handler
    controller.stop()


@pytest.fixture
def accounts(sqlite_engine):
    """Three accounts on the shared database, removed (with their subscriptions) afterwards."""
    made = {
        "mail-board": ("board@example.org", "board", ()),
        "mail-lead": ("lead@example.org", "affiliate_lead", ("NC-CHARLOTTE",)),
        "mail-refused": (REFUSED, "board", ()),
    }
    for username, (address, role, ids) in made.items():
        users.add_user(sqlite_engine, username, username.title(), address, PASSWORD, role, ids)
    yield sqlite_engine
    for username in made:
        users.remove_user(sqlite_engine, username)


def attachments(message: Message) -> dict[str, bytes]:
    return {part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()}


def pdf_text(data: bytes) -> str:
    return " ".join(PdfReader(io.BytesIO(data)).pages[0].extract_text().split())


def test_each_recipient_gets_its_briefs_in_its_own_scope_and_a_refused_one_is_retried(accounts, inbox, raw) -> None:
    engine = accounts
    year = sorted(raw["school_years"]["school_year"].unique())[-1]
    subscriptions.subscribe(engine, "mail-board", content.Place(), "pdf")
    subscriptions.subscribe(engine, "mail-board", content.Place(state="NC"), "pptx")
    lead = subscriptions.subscribe(engine, "mail-lead", content.Place(affiliate="NC-CHARLOTTE"), "pdf")
    refused = subscriptions.subscribe(engine, "mail-refused", content.Place(), "pdf")
    with pytest.raises(ValueError, match="own affiliates"):
        subscriptions.subscribe(engine, "mail-lead", content.Place(affiliate="GA-MACON"), "pdf")

    december = datetime(2026, 12, 2, 6, tzinfo=UTC)
    report = subscriptions.send(engine, now=december)
    assert sorted(report.sent) == ["board@example.org", "lead@example.org"]
    assert [n for n, _ in report.failed] == [refused] and "550" in report.failed[0][1]
    (board,) = inbox.to("board@example.org")
    files = attachments(board)
    assert sorted(files) == [f"brief-NC-{year}.pptx", f"brief-nation-{year}.pdf"]
    assert "The whole network" in pdf_text(files[f"brief-nation-{year}.pdf"])
    slide = Presentation(io.BytesIO(files[f"brief-NC-{year}.pptx"])).slides[0]
    assert any(s.has_chart and "North Carolina" in [x.name for x in s.chart.plots[0].series] for s in slide.shapes)
    (mail,) = inbox.to("lead@example.org")
    (only,) = attachments(mail).values()
    text = pdf_text(only)
    assert "Communities In Schools of Charlotte" in text
    others = set(raw["affiliates"]["name"]) - {"Communities In Schools of Charlotte"}
    assert not [name for name in others if name in text]
    row = subscriptions.listed(engine).set_index("subscription_id").loc[refused]
    assert row["failures"] == 1 and "550" in row["last_error"]

    # The same month again: only the refused one is due, and it goes once the server takes it.
    inbox.messages.clear()
    inbox.refusing = False
    report = subscriptions.send(engine, now=december.replace(day=20))
    assert report.sent == [REFUSED] and report.failed == []
    assert [m["To"] for m in inbox.messages] == [REFUSED]
    assert subscriptions.listed(engine).set_index("subscription_id").loc[refused, "failures"] == 0

    # The lead is moved to another affiliate: next month its Charlotte brief is refused, not sent.
    users.set_role(engine, "mail-lead", "affiliate_lead", ["GA-MACON"])
    inbox.messages.clear()
    report = subscriptions.send(engine, now=datetime(2027, 1, 5, tzinfo=UTC))
    assert inbox.to("lead@example.org") == []
    assert [n for n, _ in report.failed] == [lead] and "in your view" in report.failed[0][1]
    assert sorted(report.sent) == ["board@example.org", REFUSED]


def test_a_brief_after_each_load_is_due_once_per_new_load() -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    row = {"cadence": "after_load", "last_sent_at": None, "last_sent_load": None}
    assert subscriptions.is_due(row, 3, now)
    assert not subscriptions.is_due({**row, "last_sent_load": 3}, 3, now)
    assert subscriptions.is_due({**row, "last_sent_load": 3}, 4, now)
    assert not subscriptions.is_due(row, None, now)
    monthly = {"cadence": "monthly", "last_sent_at": datetime(2026, 11, 30, tzinfo=UTC), "last_sent_load": None}
    assert subscriptions.is_due(monthly, 3, now)
    assert not subscriptions.is_due({**monthly, "last_sent_at": datetime(2026, 12, 1, tzinfo=UTC)}, 3, now)


def test_send_without_a_mail_server_says_what_to_set(sqlite_engine, monkeypatch) -> None:
    monkeypatch.delenv("DASHBOARD_SMTP_HOST", raising=False)
    with pytest.raises(Exception, match="DASHBOARD_SMTP_HOST"):
        subscriptions.send(sqlite_engine)
