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
)


def allowed(role: str | None) -> list[PageSpec]:
    """The pages this role may open, in menu order; none for an unknown role."""
    return [p for p in PAGES if role in p.roles]


def refused(role: str | None) -> list[PageSpec]:
    """The pages this role may not open (their URLs show a 'not available for your role' page)."""
    return [p for p in PAGES if role not in p.roles]
