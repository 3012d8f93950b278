import streamlit as st

from components import data, drill, filters, page, table
from dashboard import formatting
from dashboard.views import outcomes as outcomes_view

engine, scope, years, year = page.year_page("Outcomes")
metric = filters.metric()
span = filters.trend_years(years)

known = data.affiliate_choices(engine, scope)
path = drill.position(known)
affiliates = outcomes_view.affiliate_names(known)
drill.breadcrumb(path, affiliates)
here = outcomes_view.breadcrumb(path, affiliates)[-1][0]

level = path.level
names = drill.school_names(engine, path.affiliate, scope) if level == "school" else affiliates
rates = data.outcome_rates(engine, path.filters((year,)), scope, level=level)
bars = outcomes_view.suppressed_bars(rates, level, metric, names)

st.subheader(f"{formatting.LABELS[metric]}, {year}: tier 2 and tier 3 by {outcomes_view.LEVEL_NOUN[level]}")
if bars.empty:
    st.info("No outcome data for this place and year.")
else:
    event = st.plotly_chart(
        outcomes_view.bar_figure(bars, metric, level), on_select="rerun", selection_mode="points", key="outcome_bars"
    )
    points = (event or {}).get("selection", {}).get("points", [])
    if points and points[0].get("customdata"):
        clicked = str(points[0]["customdata"][0])
        target = path.child(clicked) if clicked in set(bars["place_id"]) else None
        if target is not None:
            drill.go_to(target, clear="outcome_bars")
    hint = "Click a bar to see its affiliates." if level == "state" else ""
    hint = "Click a bar to see its schools." if level == "affiliate" else hint
    hidden = outcomes_view.suppressed_places(bars)
    note = (
        f" {len(hidden)} cells are suppressed and marked '<10': fewer than 10 eligible students, or hidden so that "
        f"a total cannot reveal a small cell ({formatting.markdown_text(', '.join(hidden[:6]))}{', …' if len(hidden) > 6 else ''})."
        if hidden
        else ""
    )
    st.caption(f"{outcomes_view.spread(bars)} Rate = students who met the outcome / eligible students; hover for n."
               f"{note} {hint}")  # fmt: skip
    table.data_expander(outcomes_view.export_frame(bars), f"outcomes_{metric}_{year}")

st.subheader("Year over year")
trend_rates = data.outcome_rates(engine, path.filters(span), scope, level="national")
trend = outcomes_view.suppressed_trend(trend_rates, metric)
st.plotly_chart(outcomes_view.trend_figure(trend, metric), key="outcome_trend")
st.caption(f"{formatting.LABELS[metric]} for {formatting.markdown_text(here)}, {span[0]} to {span[-1]}.")
