"""Which pages each role may open: one table, read by the navigation and by the tests."""

from __future__ import annotations

from dataclasses import dataclass

ALL_ROLES = frozenset({"admin", "board", "fundraiser", "affiliate_lead"})


@dataclass(frozen=True)
class PageSpec:
    """A page of the app: its script, menu title, icon, URL path and the roles that may open it."""

    script: str
    title: str
    icon: str
    url_path: str
    roles: frozenset[str]


PAGES: tuple[PageSpec, ...] = (
    PageSpec("app_pages/overview.py", "Overview", ":material/insights:", "", ALL_ROLES),
    PageSpec("app_pages/outcomes.py", "Outcomes", ":material/bar_chart:", "outcomes", ALL_ROLES),
    PageSpec("app_pages/map.py", "Map", ":material/map:", "map", ALL_ROLES),
    PageSpec("app_pages/profile.py", "Affiliate profile", ":material/id_card:", "profile", ALL_ROLES),
    PageSpec("app_pages/schools.py", "Schools", ":material/school:", "schools", ALL_ROLES - {"fundraiser"}),
    PageSpec("app_pages/partners.py", "Partners", ":material/handshake:", "partners", ALL_ROLES),
    PageSpec("app_pages/roi.py", "Return on investment", ":material/payments:", "roi", ALL_ROLES),
    PageSpec("app_pages/data.py", "Data", ":material/upload_file:", "data", frozenset({"admin", "affiliate_lead"})),
    PageSpec("app_pages/admin.py", "Accounts and audit", ":material/manage_accounts:", "admin", frozenset({"admin"})),
    PageSpec("app_pages/glossary.py", "Glossary", ":material/menu_book:", "glossary", ALL_ROLES),
)


def allowed(role: str | None) -> list[PageSpec]:
    """The pages this role may open, in menu order; none for an unknown role."""
    return [p for p in PAGES if role in p.roles]


def refused(role: str | None) -> list[PageSpec]:
    """The pages this role may not open (their URLs show a 'not available for your role' page)."""
    return [p for p in PAGES if role not in p.roles]


def scope_sentence(names: list[str]) -> str:
    """What a scoped account's pages cover, for the line under each page's title.

    `names` are the display names of the account's affiliates (empty: linked to none).
    """
    if not names:
        return "Your account is not linked to an affiliate yet, so there is nothing in your view. Ask an admin."
    if len(names) == 1:
        return f"Your view: {names[0]}, your affiliate. Every figure covers its schools only, except benchmarks named as its state or the nation."
    listed = ", ".join(sorted(names)[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"Your view: your {len(names)} affiliates ({listed}). Figures cover their schools only."
