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
    place = content.Place(state=args.state, affiliate=args.affiliate)
    try:
        brief = content.build(engine, place, args.year)
    except content.BriefError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.write_bytes((slides if args.format == "pptx" else pdf).render(brief))
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KB): {brief.place}, {brief.year}")
    return 0


def register_cli(subparsers) -> None:
    """`brief (--nation | --state S | --affiliate A) --year Y [--format pdf|pptx] --out FILE`."""
    p = subparsers.add_parser(
        "brief", help="a one-page brief (PDF or PowerPoint) of the nation, a state or an affiliate"
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--nation", action="store_true", help="the whole network")
    where.add_argument("--state", help="a state code, e.g. NC")
    where.add_argument("--affiliate", help="an affiliate id, e.g. NC-CHARLOTTE")
    p.add_argument("--year", required=True, help="school year, e.g. 2023-24")
    p.add_argument("--format", choices=["pdf", "pptx"], default="pdf", help="pdf, or pptx with editable charts")
    p.add_argument("--out", required=True, help="the file to write")
    p.add_argument("--database-url", default=None)
    p.set_defaults(func=cmd_brief)
