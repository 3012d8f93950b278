import streamlit as st

from components import brief, chart, data, filters, kpi, navigation, page, table
from dashboard import config, privacy
from dashboard.views import charts

engine, scope, years, year = page.year_page("Impact overview")
view = filters.school_filters(engine, scope, year, tiers=True)
span = filters.trend_years(years)
previous_year = page.previous_school_year(years, year)

totals = data.kpi_totals(engine, view, scope).set_index("school_year")
partners = data.partners_by_year(engine, view, scope).set_index("school_year")
totals = totals.join(partners[["partners"]], how="left")
if year not in totals.index:
    st.info(f"No schools match these filters in {year}. Clear a filter in the sidebar to see more.")
    st.stop()
rates = data.outcome_rates(engine, view.with_years(year), scope, by_tier=False)
previous_rates = (
    data.outcome_rates(engine, view.with_years(previous_year), scope, by_tier=False) if previous_year else None
)

st.subheader(f"School year {year}")
if view.tiers:
    st.caption("The tier filter narrows the outcome rates and the tier chart; the counts cover every tier.")
headline = ["students_served", "case_managed", "schools", "organisations", "states", "partners", "volunteers",
            "volunteer_hours"]  # fmt: skip
if scope.affiliates is not None and len(scope.affiliates) == 1:
    headline = [c for c in headline if c not in ("organisations", "states")]  # "States 1, Affiliates 1" says nothing
kpi.cards(totals.loc[year], totals.loc[previous_year] if previous_year in totals.index else None, headline)
kpi.rate_cards(rates, previous_rates, ["remained_in_school", "promoted", "graduated"])
brief.download(engine, view, scope, year)

st.subheader(f"Students served by state, {year}")
threshold = config.get("suppression_threshold")
# Student counts carry their stored status: suppressed ones are blanked before a chart or a download.
by_state = privacy.published_counts(data.kpi_by_state(engine, view.with_years(year), scope))
picked = chart.show(
    charts.state_tile_map(by_state, "students_served", "Students served"),
    "state_map",
    f"Students served by state, {year}",
    "counts",
    on_select="rerun",
    selection_mode="points",
)
navigation.open_state_outcomes(picked, year)
table.data_expander(privacy.with_labels(by_state, threshold), f"students_by_state_{year}")

st.subheader(f"Students served by tier, {span[0]} to {span[-1]}")
by_tier = data.students_served_by_tier(engine, view.with_years(*span), scope)
by_tier = privacy.published_counts(by_tier)
chart.show(charts.students_by_tier(by_tier), "students_by_tier", f"Students served by tier, {span[0]} to {span[-1]}",
           "counts")  # fmt: skip
table.data_expander(privacy.with_labels(by_tier, threshold), "students_served_by_tier")
by_year = privacy.published_counts(totals.reset_index())
table.data_expander(privacy.with_labels(by_year, threshold), "kpis_by_year", "Data: every figure by year")
