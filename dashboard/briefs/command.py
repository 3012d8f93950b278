"""`python -m dashboard brief`: one place's brief for a school year, written to a file."""

from __future__ import annotations

import sys
from pathlib import Path


def cmd_brief(args) -> int:
    """Write the brief; exit 0, or 1 with one line when the place or year is not in the data."""
    from dashboard.briefs import content, pdf, slides
    from dashboard.data import db

    engine = db.create_engine(args.database_url)
    db.check_connection(engine)
    place = content.Place(state=args.state, affiliate=args.affiliate, school=args.school)
    try:
        brief = content.build(engine, place, args.year)
    except content.BriefError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.write_bytes((slides if args.format == "pptx" else pdf).render(brief))
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KB): {brief.place}, {brief.year}")
    return 0


def cmd_briefs(args) -> int:
    """`briefs subscribe|unsubscribe|list|send`: exit 0, 1 when a send failed for anyone, 2 on bad settings."""
    from dashboard.briefs import content, subscriptions
    from dashboard.data import db

    engine = db.create_engine(args.database_url)
    db.check_connection(engine)
    if args.action == "subscribe":
        place = content.Place(state=args.state, affiliate=args.affiliate)
        try:
            number = subscriptions.subscribe(engine, args.username, place, args.format, args.cadence)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"subscription {number}: {args.username}, {subscriptions.place_key(place) or 'nation'}, "
              f"{args.format}, {args.cadence}")  # fmt: skip
        return 0
    if args.action == "unsubscribe":
        if not subscriptions.unsubscribe(engine, args.id):
            print(f"error: no subscription {args.id}", file=sys.stderr)
            return 1
        print(f"subscription {args.id} removed")
        return 0
    if args.action == "list":
        frame = subscriptions.listed(engine)
        print(frame.to_string(index=False) if len(frame) else "no subscriptions")
        return 0
    report = subscriptions.send(engine)
    print(f"sent {report.briefs} briefs in {len(report.sent)} messages; {len(report.failed)} failed")
    for number, reason in report.failed:
        print(f"  subscription {number}: {reason}")
    return 1 if report.failed else 0


def register_cli(subparsers) -> None:
    """`brief (--nation | --state S | --affiliate A | --school ID) --year Y [--format pdf|pptx] --out FILE`."""
    p = subparsers.add_parser(
        "brief", help="a one-page brief (PDF or PowerPoint) of the nation, a state, an affiliate or a school"
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--nation", action="store_true", help="the whole network")
    where.add_argument("--state", help="a state code, e.g. NC")
    where.add_argument("--affiliate", help="an affiliate id, e.g. NC-CHARLOTTE")
    where.add_argument("--school", help="a school id (NCES), e.g. 370020000034")
    p.add_argument("--year", required=True, help="school year, e.g. 2023-24")
    p.add_argument("--format", choices=["pdf", "pptx"], default="pdf", help="pdf, or pptx with editable charts")
    p.add_argument("--out", required=True, help="the file to write")
    p.add_argument("--database-url", default=None)
    p.set_defaults(func=cmd_brief)

    p = subparsers.add_parser("briefs", help="briefs by email: subscribe accounts, list, send those due (cron)")
    actions = p.add_subparsers(dest="action", required=True)
    add = actions.add_parser("subscribe", help="subscribe an account to a place's brief")
    add.add_argument("username")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--nation", action="store_true")
    where.add_argument("--state")
    where.add_argument("--affiliate")
    add.add_argument("--format", choices=["pdf", "pptx"], default="pdf")
    add.add_argument("--cadence", choices=["monthly", "after_load"], default="monthly")
    drop = actions.add_parser("unsubscribe", help="remove a subscription by its id")
    drop.add_argument("id", type=int)
    actions.add_parser("list", help="every subscription, when it was last sent and its last error")
    actions.add_parser("send", help="mail each recipient the briefs that are due (SMTP settings)")
    p.add_argument("--database-url", default=None)
    p.set_defaults(func=cmd_briefs)
