import streamlit as st

from components import chart, data, drill, filters, navigation, page, table
from dashboard import formatting
from dashboard.data import queries
from dashboard.views import charts
from dashboard.views import outcomes as outcomes_view

engine, scope, years, year = page.year_page("Outcomes")
metric = filters.metric()
span = filters.trend_years(years)

known = data.affiliate_choices(engine, scope)
highest = outcomes_view.top(known, scope)
path = drill.position(known, highest)
filters.note(f"Place: {' / '.join(p for p in (path.state, path.affiliate) if p) or 'the nation'}")
affiliates = outcomes_view.affiliate_names(known)
drill.breadcrumb(path, affiliates, highest)

level = path.level
names = drill.school_names(engine, path.affiliate, scope) if level == "school" else affiliates
rates = data.outcome_rates(engine, path.filters((year,)), scope, level=level)
partial = level == "state" and scope.affiliates is not None
bars = outcomes_view.suppressed_bars(rates, level, metric, names, partial)
marks = outcomes_view.benchmarks(path, affiliates)
benchmark_rates = {
    m.key: data.outcome_rates(engine, m.filters.with_years(year), queries.EVERYTHING if m.whole else scope)
    for m in marks
}
bench = outcomes_view.benchmark_bars(benchmark_rates, marks, metric)

st.subheader(f"{formatting.LABELS[metric]}, {year}: tier 2 and tier 3 by {outcomes_view.LEVEL_NOUN[level]}")
if bars.empty:
    st.info("No outcome data for this place and year.")
else:
    count = bars["place"].nunique()
    # Every state fits as a two-letter code; below the nation, long names are trimmed to both ends on request.
    show_all = level == "state" or (
        count > outcomes_view.MAX_BARS
        and st.toggle(f"Show all {count} {outcomes_view.LEVEL_NOUN[level]}s", key="outcome_show_all")
    )
    drawn = outcomes_view.drawn_places(bars, show_all)
    event = chart.show(
        outcomes_view.bar_figure(bars, metric, level, bench, drawn), "outcome_bars",
        f"{formatting.LABELS[metric]}, {year}: tier 2 and tier 3 by {outcomes_view.LEVEL_NOUN[level]}", "outcomes",
        on_select="rerun", selection_mode="points",
    )  # fmt: skip
    points = (event or {}).get("selection", {}).get("points", [])
    if points and points[0].get("customdata"):
        clicked = str(points[0]["customdata"][0])
        if clicked in set(bars["place_id"]):
            if level == "school":
                del st.session_state["outcome_bars"]  # or coming back would open the school again
                navigation.open_school(clicked, year, metric)
            elif (target := path.child(clicked)) is not None:
                drill.go_to(target, clear="outcome_bars")
    drill.next_level_picker(path, bars, year, metric)
    hint = {"state": "Click a bar to see its affiliates.", "affiliate": "Click a bar to see its schools.",
            "school": "Click a bar to open that school on the Schools page."}[level]  # fmt: skip
    order = (
        f" Showing the {outcomes_view.ENDS} highest and {outcomes_view.ENDS} lowest of {count}, highest first;"
        " the rest are in the table below."
        if len(drawn) < count
        else " Highest rate first."
    )
    hidden = outcomes_view.suppressed_places(bars)
    note = (
        f" {len(hidden)} cells are suppressed and marked '<10' (fewer than 10 eligible students) or 'hidden' "
        f"(so that a total cannot reveal a small cell): {formatting.markdown_text(', '.join(hidden[:6]))}"
        f"{', …' if len(hidden) > 6 else ''}."
        if hidden
        else ""
    )
    st.caption(f"{outcomes_view.spread(bars)}{order} Hatched bars are benchmarks over every school of the place. "
               f"Rate = students who met the outcome / eligible students; hover for n. {charts.RATE_AXIS_RULE}"
               f"{note} {hint}")  # fmt: skip
    table.data_expander(outcomes_view.export_frame(outcomes_view.with_benchmarks(bars, bench)),
                        f"outcomes_{metric}_{year}")  # fmt: skip

st.subheader("Year over year")
here = outcomes_view.trend_name(path, affiliates, scope)
trend_rates = data.outcome_rates(engine, path.filters(span), scope, level="national")
trend = outcomes_view.suppressed_trend(trend_rates, metric)
chart.show(outcomes_view.trend_figure(trend, metric), "outcome_trend",
           f"{formatting.LABELS[metric]} for {here}, {span[0]} to {span[-1]}", "outcomes")  # fmt: skip
st.caption(f"{formatting.LABELS[metric]} for {formatting.markdown_text(here)}, {span[0]} to {span[-1]}. "
           f"{charts.RATE_AXIS_RULE}")  # fmt: skip
