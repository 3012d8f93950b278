"""What a brief says: the figures of one place and school year, read through the query layer and the stored
suppression decision exactly as the pages read them, and turned into text the way the pages show it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd
import sqlalchemy as sa

from dashboard import config, formatting, privacy, roi
from dashboard.data import db, geo, queries
from dashboard.views import overview as overview_view
from dashboard.views import profile as profile_view
from dashboard.views import roi as roi_view

HEADLINE = ["students_served", "case_managed", "schools", "partners", "volunteers", "volunteer_hours"]
RATES = ["remained_in_school", "promoted", "graduated"]
TIERS = {1: "Tier 1 (school-wide)", 2: "Tier 2 (targeted)", 3: "Tier 3 (case-managed)"}


class BriefError(ValueError):
    """A brief that cannot be made as asked (an unknown place or year, a place outside the account's scope)."""


@dataclass(frozen=True)
class Place:
    """The nation (all None), a state, an affiliate, or one school (a lead's brief of one of its schools)."""

    state: str | None = None
    affiliate: str | None = None
    school: str | None = None


def place_for(filters: queries.Filters, scope: queries.Scope) -> Place | None:
    """The place a page's view is of, for its brief: one affiliate, one state, or the nation; None when the view
    spans several places a brief cannot name (two states, two affiliates, or a lead's several affiliates)."""
    affiliates = filters.affiliates or (tuple(sorted(scope.affiliates)) if scope.affiliates is not None else ())
    if len(affiliates) == 1:
        return Place(affiliate=affiliates[0])
    if affiliates:
        return None
    if len(filters.states) == 1:
        return Place(state=filters.states[0])
    return None if filters.states else Place()


@dataclass
class Brief:
    """Every text a brief prints, in reading order; `outcomes` rows hold the place and its benchmarks."""

    title: str
    place: str
    year: str
    previous_year: str | None
    demo: bool
    as_of: str
    headline: list[dict] = field(default_factory=list)
    # Each row: metric, tier, values (as shown, one per outcome column) and shares (exact rates or None).
    outcomes: list[dict] = field(default_factory=list)
    outcome_columns: list[str] = field(default_factory=list)
    # The place's headline rates (tiers 2 and 3) per school year: metric key, label, and per year of trend_years
    # the rate as shown and the exact share (None where not published exactly: a gap in the chart).
    trend: list[dict] = field(default_factory=list)
    trend_years: list[str] = field(default_factory=list)
    # Each row: tier, students (as shown) and number (the count where shown, else None).
    students: list[dict] = field(default_factory=list)
    # Each row: label and value, as shown (costs per student, the model's return across its presets).
    investment: list[dict] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Named:
    """A place's name, with the state and affiliate it lies in (None for the nation, or a state's affiliate)."""

    name: str
    state: str | None = None
    affiliate: str | None = None
    affiliate_name: str | None = None


def _place_name(engine: sa.Engine, place: Place, scope: queries.Scope) -> _Named:
    """The place's name and where it lies, or BriefError when it is not in view."""
    if place.school:
        school = queries.school_details(engine, place.school, scope)
        if school.empty:
            raise BriefError(f"no school {place.school!r} in your view")
        row = school.iloc[0]
        return _Named(str(row["name"]), str(row["state"]), str(row["affiliate_id"]), str(row["affiliate_name"]))
    if place.affiliate:
        details = queries.affiliate_details(engine, place.affiliate, scope)
        if details.empty:
            raise BriefError(f"no affiliate {place.affiliate!r} in your view")
        return _Named(str(details["name"].iloc[0]), str(details["state"].iloc[0]))
    if place.state:
        if place.state not in queries.states_with_schools(engine):
            raise BriefError(f"no schools in state {place.state!r}")
        return _Named(geo.state_name(place.state), place.state)
    return _Named("The whole network")


def _rate(rows: pd.DataFrame, metric: str, threshold: int, top_code_below: int) -> tuple[str, float | None]:
    """(the rate as shown, the rate as a share where it is published exactly, else None)."""
    row = rows[rows["metric"] == metric]
    if row.empty:
        return "–", None
    met, eligible, status = int(row["met"].iloc[0]), int(row["eligible"].iloc[0]), row["status"].iloc[0]
    exact = met / eligible if status == "shown" else None
    return privacy.published_rate(met, eligible, status, threshold, top_code_below), exact


def build(engine: sa.Engine, place: Place, year: str, scope: queries.Scope = queries.EVERYTHING) -> Brief:
    """The brief of `place` for school `year`, within `scope`: headline counts with the change from the year
    before, outcome rates of the place beside its state and the nation, students served by tier, and costs and
    return (`_investment`). BriefError when the year, the place or the scope does not allow it."""
    years = queries.school_years_available(engine)
    if not years:
        raise BriefError("no school year has data yet: load the outcome tables first")
    if year not in years:
        raise BriefError(f"no data for school year {year!r}; there is data for {years[0]} to {years[-1]}")
    if scope.affiliates is not None and not (place.affiliate or place.school):
        raise BriefError("an affiliate lead's brief is of one of its affiliates or schools: name it")
    named = _place_name(engine, place, scope)
    name, state = named.name, named.state
    threshold, top_code_below = int(config.get("suppression_threshold")), int(config.get("top_coding_below"))
    previous = years[years.index(year) - 1] if years.index(year) > 0 else None
    view = queries.Filters(states=(place.state,) if place.state else (),
                           affiliates=(place.affiliate,) if place.affiliate else (),
                           schools=(place.school,) if place.school else ())  # fmt: skip
    chosen = [y for y in (previous, year) if y]
    totals = queries.kpi_totals(engine, view.with_years(*chosen), scope).set_index("school_year")
    partners = queries.partners_by_year(engine, view.with_years(*chosen), scope).set_index("school_year")
    totals = totals.join(partners[["partners"]], how="left")
    if year not in totals.index:
        raise BriefError(f"{name} has no schools in {year}")
    before = totals.loc[previous] if previous in totals.index else None
    as_of = queries.data_as_of(engine)
    brief = Brief(
        title="Communities In Schools: impact brief", place=name, year=year, previous_year=previous,
        demo=db.is_demo(engine),
        as_of=f"Data as of {as_of[1]:%-d %B %Y} (load {as_of[0]})" if as_of else "No load recorded",
    )  # fmt: skip
    headline = [c for c in HEADLINE if c != "schools"] if place.school else HEADLINE
    for card in overview_view.count_cards(totals.loc[year], before, headline, threshold):
        brief.headline.append({"label": card.label, "value": card.value, "change": card.change or ""})

    # The place beside its state and the nation: benchmarks are published cells read with the scope of
    # everything, as the Outcomes page reads them.
    columns = [("place", name, view, scope)]
    if named.affiliate:
        columns.append(("affiliate", str(named.affiliate_name), queries.Filters(affiliates=(named.affiliate,)),
                        queries.EVERYTHING))  # fmt: skip
    if (place.affiliate or place.school) and state:
        columns.append(("state", geo.state_name(state), queries.Filters(states=(state,)), queries.EVERYTHING))
    if place.state or place.affiliate or place.school:
        columns.append(("nation", "Nation", queries.Filters(), queries.EVERYTHING))
    brief.outcome_columns = [label for _, label, _, _ in columns]
    read = {}
    for key, _, filters, reach in columns:
        read[key] = queries.outcome_rates(engine, filters.with_years(year), reach, by_tier=True)
        read[key + "_all"] = queries.outcome_rates(engine, filters.with_years(year), reach, by_tier=False)
    for metric in RATES:
        for tier, tier_label in ((0, "Tiers 2 and 3"), (2, "Tier 2"), (3, "Tier 3")):
            values, shares = [], []
            for key, _, _, _ in columns:
                frame = read[key + "_all"] if tier == 0 else read[key][read[key]["tier"] == tier]
                text, share = _rate(frame, metric, threshold, top_code_below)
                values.append(text)
                shares.append(share)
            brief.outcomes.append({"metric": formatting.LABELS[metric], "tier": tier_label, "values": values,
                                   "shares": shares})  # fmt: skip

    brief.trend_years = list(profile_view.trend_years(years, year))
    brief.trend = _trend(engine, view, scope, brief.trend_years, threshold, top_code_below)

    by_tier = privacy.published_counts(queries.students_served_by_tier(engine, view.with_years(year), scope))
    for _, row in by_tier.iterrows():
        label = privacy.count_label(row["students_status"], threshold)
        number = None if label else int(row["students"])
        brief.students.append({"tier": TIERS[int(row["tier"])], "students": label or f"{number:,}",
                               "number": number})  # fmt: skip
    if place.school:
        # An affiliate keeps one set of books for all its schools: a school has no costs of its own to divide.
        brief.investment = [{"label": "Costs and return", "value": f"kept by {named.affiliate_name} for all its "
                             "schools: see the affiliate's brief"}]  # fmt: skip
    else:
        brief.investment = _investment(engine, view, scope, year, totals.reset_index(), partners.reset_index(),
                                       read["place_all"])  # fmt: skip
    brief.evidence = [f"{e['source']}: {e['note']}" for e in roi.PUBLISHED_ESTIMATES]
    brief.notes = [
        f"Counts of 1 to {threshold - 1} students read '<{threshold}'; 'hidden' marks a figure withheld so that "
        "no sum of published figures gives a small one back. Rates near 0 or 100% on small groups read as a range.",
        "Rates are of eligible tier 2 and 3 students; changes are from the school year before.",
    ]
    return brief


def _trend(engine: sa.Engine, view: queries.Filters, scope: queries.Scope, years: list[str], threshold: int,
           top_code_below: int) -> list[dict]:  # fmt: skip
    """The place's headline rates (tiers 2 and 3) per school year, as the stored decision publishes them."""
    rates = queries.outcome_rates(engine, view.with_years(*years), scope, by_tier=False)
    rows = []
    for metric in profile_view.TREND_METRICS:
        read = [_rate(rates[rates["school_year"] == year], metric, threshold, top_code_below) for year in years]
        shown, shares = [text for text, _ in read], [share for _, share in read]
        rows.append({"key": metric, "metric": formatting.LABELS[metric], "values": shown, "shares": shares})
    return rows


def trend_frame(brief: Brief) -> pd.DataFrame:
    """The brief's trend in the shape the Profile page's trend chart draws (profile_view.trend_figure): one row per
    metric and year with the rate, whether it is withheld, and the rate and n as shown."""
    rows = [{"school_year": year, "metric": row["key"], "rate": share, "suppressed": share is None,
             "rate_label": text, "n_label": text}
            for row in brief.trend
            for year, text, share in zip(brief.trend_years, row["values"], row["shares"], strict=True)]  # fmt: skip
    return pd.DataFrame(rows, columns=["school_year", "metric", "rate", "suppressed", "rate_label", "n_label"])


def _whole_dollars(value: float | None) -> str:
    """$176 as people quote a cost per student; '–' when it is not published."""
    return "–" if value is None else f"${value:,.0f}"


def _investment(engine: sa.Engine, view: queries.Filters, scope: queries.Scope, year: str, totals: pd.DataFrame,
                partners: pd.DataFrame, graduation: pd.DataFrame) -> list[dict]:  # fmt: skip
    """Costs per student served and per case-managed student (blank where the count is withheld), and the ROI
    model's benefit per $1 across its presets, for the place's own expenses and graduates. The ratio is given only
    where the place's graduation figure is published exactly: it is linear in the graduates, so it would give a
    withheld figure back."""
    finances = queries.finances_by_category(engine, view.with_years(year), scope)
    inputs = roi_view.inputs_for_year(year, finances, graduation, totals, partners)
    results = {}
    for name, assumptions in roi.PRESETS.items():
        try:
            results[name] = roi.evaluate(inputs, assumptions)
        except ValueError:  # no expenses recorded for the year: nothing to divide by
            continue
    if not results:
        return [{"label": "Return on investment", "value": f"no expenses are recorded for {year}"}]
    costs = roi_view.published_result(next(iter(results.values())), totals, year)
    rows = [
        {"label": "Cost per student served", "value": _whole_dollars(costs.cost_per_student)},
        {"label": "Cost per case-managed student", "value": _whole_dollars(costs.cost_per_case_managed)},
        {"label": "In-kind gifts and volunteer time (partners' reports)",
         "value": f"${formatting.compact(costs.leveraged_usd)}, volunteer hours at "
                  f"${next(iter(roi.PRESETS.values())).volunteer_hour_value_usd:,.2f}"},
    ]  # fmt: skip
    graduated = graduation[graduation["metric"] == "graduated"]
    if graduated.empty or (graduated["status"] != "shown").any():
        rows.append({"label": "Our model's benefit per $1",
                     "value": "not given: this place's graduation figure is withheld"})  # fmt: skip
        return rows
    low = min(results, key=lambda n: results[n].benefit_cost_ratio)
    high = max(results, key=lambda n: results[n].benefit_cost_ratio)
    rows.append({"label": "Our model's benefit per $1",
                 "value": f"{formatting.dollars(results[low].benefit_cost_ratio)} ({_short(low)} assumptions) to "
                          f"{formatting.dollars(results[high].benefit_cost_ratio)} ({_short(high)})"})  # fmt: skip
    return rows


def _short(preset: str) -> str:
    """A preset's name without its parenthesis: 'Conservative', 'EMSI 2012'."""
    return preset.split(" (")[0]
