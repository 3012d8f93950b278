import streamlit as st

from components import brief, chart, data, filters, page, table
from dashboard import formatting
from dashboard.data import queries
from dashboard.views import charts
from dashboard.views import profile as profile_view

engine, scope, years, year = page.year_page("Affiliate profile")
choices = profile_view.picker_labels(
    data.affiliate_choices(engine, scope), data.affiliates_with_schools(engine, year), year
)
if not choices:
    st.info("Your account is not linked to any affiliate yet, so there is no profile to show. Ask an admin to link it.")
    st.stop()
chosen, notice = profile_view.choose(st.query_params.get("affiliate"), list(choices))
if notice:
    st.info(notice, icon=":material/info:")
ids = list(choices)
affiliate = st.selectbox("Affiliate", ids, index=ids.index(chosen), format_func=choices.get, key="profile_affiliate")
st.query_params["affiliate"] = affiliate
filters.note(f"Affiliate: {choices[affiliate]}")

trend_years = profile_view.trend_years(years, year)
report = data.affiliate_profile(engine, affiliate, year, trend_years, scope)
if report is None:
    st.info("This affiliate is not one you can view.")
    st.stop()
name = report.affiliate["name"]
st.subheader(formatting.markdown_text(name))
st.caption(formatting.markdown_text(f"{profile_view.headline(report.affiliate)} · school year {year}"))

reporting = profile_view.years_with_data(report.totals)
if year not in reporting:
    when = f"It has data for {reporting[0]} to {reporting[-1]}." if reporting else "None of its schools has data yet."
    st.info(
        f"{formatting.markdown_text(name)} had no school reporting in {year}. {when} Pick another year in the sidebar."
    )
cards = profile_view.kpi_cards(report.totals, year, page.previous_school_year(years, year))
for slot, card in zip(st.columns(len(cards)), cards, strict=True):
    slot.metric(card.label, card.value, card.delta, help=card.help)
if year in reporting:
    brief.download(engine, queries.Filters(affiliates=(affiliate,)), scope, year)

left, right = st.columns([3, 2])
with left:
    st.markdown(f"**Schools, {year}**")
    schools, silent = profile_view.schools_table(report.schools)
    if schools.empty:
        st.caption(f"No school of {formatting.markdown_text(name)} reported for {year}.")
    else:
        st.dataframe(schools, hide_index=True, height=profile_view.table_height(len(schools)))
        st.caption(
            "Counts under 10 show as <10; 'hidden' marks one hidden so a total cannot reveal a small one."
            + (f" {silent} more schools sent no figures for {year}." if silent else "")
        )
        table.data_expander(schools, f"profile_{affiliate}_schools_{year}")
with right:
    st.markdown("**Students served by tier**")
    tier_chart, tier_table = profile_view.tiers_over_time(report.by_tier)
    if tier_chart.empty:
        st.caption("No students served in any year.")
    else:
        chart.show(charts.students_by_tier(tier_chart), "profile_tiers", f"{name}: students served by tier", "counts")
        table.data_expander(tier_table, f"profile_{affiliate}_students_by_tier")

left, right = st.columns(2)
with left:
    st.markdown(f"**Outcomes against {formatting.markdown_text(report.affiliate['state'])} and the nation, {year}** "
                "(tier 2 and 3 students)")  # fmt: skip
    names = profile_view.benchmark_names(report.affiliate)
    bars = profile_view.benchmark_bars(report.benchmarks, year, names)
    missing = profile_view.places_without_outcomes(bars, names)
    if bars.empty:
        st.caption(f"No outcome data for {year}.")
    else:
        chart.show(profile_view.benchmark_figure(bars), "profile_benchmarks",
                   f"{name}: outcomes against {report.affiliate['state']} and the nation, {year}", "outcomes")  # fmt: skip
        st.caption(
            "Rate = students who met the outcome / eligible students; hover for n. <10 marks a suppressed rate."
            + (f" No outcome data in {year} for {formatting.markdown_text(' or '.join(missing))}." if missing else "")
        )
        table.data_expander(profile_view.benchmark_table(bars), f"profile_{affiliate}_benchmarks_{year}")
with right:
    st.markdown(f"**Headline rates, {profile_view.span(trend_years)}**")
    trend = profile_view.rate_trend(report.benchmarks)
    if trend.empty:
        st.caption("No outcome data in these years.")
    else:
        chart.show(profile_view.trend_figure(trend, trend_years), "profile_trend",
                   f"{name}: headline rates, {profile_view.span(trend_years)}", "outcomes")  # fmt: skip
        st.caption("Tier 2 and 3 students. A year resting on fewer than 10 students is left out (a gap); hover for n.")
        table.data_expander(trend.drop(columns="n_label"), f"profile_{affiliate}_rate_trend")

supports_col, partners_col, money_col = st.columns(3)
with supports_col:
    st.markdown(f"**Supports by category, {year}**")
    supports = profile_view.supports_table(report.supports)
    if supports.empty:
        st.caption(f"No supports recorded for {year}.")
    else:
        chart.show(profile_view.supports_figure(supports), "profile_supports", f"{name}: supports by category, {year}",
                   "partners")  # fmt: skip
        table.data_expander(profile_view.supports_export(supports), f"profile_{affiliate}_supports_{year}")
with partners_col:
    st.markdown(f"**Community partners, {year}**")
    if report.partners.empty:
        st.caption(f"No community partners recorded for {year}.")
    else:
        count, in_kind, top = profile_view.partner_summary(report.partners)
        a, b = st.columns(2)
        a.metric("Partners", count)
        b.metric("In-kind support", in_kind)
        st.caption(f"Top categories: {formatting.markdown_text(top)}")
        chart.show(profile_view.partners_figure(report.partners), "profile_partners",
                   f"{name}: community partners, {year}", "partners")  # fmt: skip
        table.data_expander(report.partners, f"profile_{affiliate}_partners_{year}")
with money_col:
    st.markdown(f"**Finances, {year}**")
    finances = profile_view.finances_table(report.finances)
    if finances.empty:
        st.caption(f"No finances reported for {year}.")
    else:
        totals = profile_view.finance_totals(report.finances)
        a, b = st.columns(2)
        a.metric("Revenue", profile_view.money(totals["revenue"]))
        b.metric("Expense", profile_view.money(totals["expense"]))
        chart.show(profile_view.finances_figure(finances), "profile_finances", f"{name}: finances, {year}", "finances")
        table.data_expander(finances, f"profile_{affiliate}_finances_{year}")
