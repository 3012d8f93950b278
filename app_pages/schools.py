import streamlit as st

from components import brief, chart, data, filters, page, table
from dashboard import formatting
from dashboard.briefs import content
from dashboard.data import contract, queries
from dashboard.views import schools as schools_view

scoped = st.session_state.get("scope", queries.EVERYTHING).affiliates is not None
whose = "your schools" if scoped else "schools"
engine, scope, years, year = page.year_page(
    "Schools", f"Compare {whose} side by side, and each against its peer group, its state and the nation."
)
previous_year = page.previous_school_year(years, year)

metric, notice = schools_view.validate_metric(st.query_params.get("metric"))
if notice:
    st.sidebar.info(notice)
metric = st.sidebar.selectbox("Outcome", contract.METRICS, index=contract.METRICS.index(metric),
                              format_func=formatting.LABELS.get, key="schools_metric")  # fmt: skip
st.query_params["metric"] = metric
label = formatting.LABELS[metric]
filters.note(f"Outcome: {label}")

directory = data.school_directory(engine, scope)
if directory.empty:
    st.info("There are no schools in your scope. An admin can load your affiliate's schools on the Data page.")
    st.stop()
if not scoped or len(scope.affiliates or ()) > 1:
    states, affiliates = filters.places(engine, scope, year)
    directory = schools_view.narrowed(directory, states, affiliates)
    if directory.empty:
        st.info("No school matches the state and affiliate chosen in the sidebar. Clear one to see more.")
        st.stop()
names = dict(zip(directory["school_id"], directory["label"], strict=True))
wanted, notices = schools_view.validate_schools(st.query_params.get_all("school"), names)
for notice in notices:
    st.info(notice, icon=":material/info:")
picked = st.multiselect(f"Schools to compare (up to {schools_view.MAX_SCHOOLS})", list(names), default=wanted,
                        format_func=names.get, max_selections=schools_view.MAX_SCHOOLS, key="schools_pick",
                        placeholder="Type a school name or city")  # fmt: skip
st.query_params["school"] = picked
if len(picked) == 1:
    brief.download(engine, queries.Filters(), scope, year, content.Place(school=picked[0]))

st.subheader(f"{label}, every school year")
if not picked:
    st.info("Pick up to 10 schools above to see them side by side over the years and against their peers.")
else:
    lines = schools_view.trend_lines(data.school_metric_rates_over(engine, metric, scope, years), directory, picked)
    if lines.empty:
        st.info(f"The schools you picked have no {label.lower()} data in any year.")
    else:
        chart.show(
            schools_view.line_figure(lines, data.national_rates(engine, metric, years), metric, years),
            "school_lines",
            f"{label}, every school year",
            "outcomes",
        )
        st.caption("Rate = students who met the outcome / eligible students, tiers 2 and 3 together; hover for n. "
                   "A gap is a suppressed year (fewer than 10 eligible students, or hidden so a total cannot "
                   "reveal one). Rates near 0 or 100% on fewer than 300 students read as a range ('>=95%') and are "
                   "drawn at its edge. "
                   "The dashed line is the whole network.")  # fmt: skip
        missing = schools_view.without_data(lines, picked, names)
        if missing:
            st.caption(f"No {label.lower()} data in any year for: {formatting.markdown_text('; '.join(missing))}.")
        table.data_expander(schools_view.lines_export(lines), f"schools_{metric}_by_year")

    st.subheader(f"Against peers, state and nation, {year}")
    bench = data.school_benchmarks(engine, metric, year, tuple(picked), scope)
    if schools_view.without_data_this_year(bench):
        st.info(f"None of the schools you picked has {label.lower()} data in {year}. Try another outcome or year.")
    else:
        chart.show(schools_view.benchmark_figure(bench, metric), "school_benchmarks",
                   f"{label}: against peers, state and nation, {year}", "outcomes")  # fmt: skip
        comparison = schools_view.benchmark_export(bench)
        st.dataframe(comparison, hide_index=True, key="school_benchmark_table")
        table.download_button(comparison, f"schools_vs_peers_{metric}_{year}")
        st.caption(f"Peer group: every school in the network with the same level, locale and Title I status. "
                   f"Peer, state and national rates are totals over all their schools, published under the same rule "
                   f"as every other figure: 'hidden' or a range such as '>=95%' where a total would reveal a small "
                   f"group. The percentile ranks the school's rate among the {schools_view.RANKED_PEERS} "
                   f"(50th = the middle). A benchmark with fewer than {schools_view.MIN_OTHER_SCHOOLS} other schools "
                   f"outside your own is not shown ('{schools_view.TOO_FEW}'), so no single school's figure can be "
                   f"worked out.")  # fmt: skip

st.subheader(f"All {whose} in view, {year}" if not scoped else f"All your schools, {year}")
served = data.school_students_served(engine, year, scope)
if served.empty:
    st.info(f"None of {whose} has data for {year}. Pick another school year in the sidebar.")
    st.stop()
two_years = [y for y in (previous_year, year) if y]
schools_table = schools_view.school_table(
    directory, served, data.school_metric_rates_over(engine, metric, scope, two_years), year, previous_year,
    data.school_standing(engine, metric, year, scope),
)  # fmt: skip
if len(schools_table) > schools_view.MAX_TABLE_ROWS:
    st.info(f"{len(schools_table):,} schools are more than one table shows well. Pick a state or an affiliate in "
            "the sidebar to list them here; the CSV below holds every one.")  # fmt: skip
else:
    st.dataframe(schools_view.styled_table(schools_table), hide_index=True, key="school_table")
since = f"since {previous_year}" if previous_year else "(no earlier year loaded)"
st.caption(f"{label} rate; change {since} in percentage points; ▲ up, ▼ down, ▬ steady (within 1 point), "
           "– no comparison (a year missing, suppressed or shown as a range). Peer rate: the school's peer group "
           "over the whole network; gap: the school's rate minus it, in points; percentile: the school's rank among "
           f"the {schools_view.RANKED_PEERS} (50th = the middle). '<10': fewer than 10 students; 'hidden': hidden "
           "so a total cannot reveal a small group. Click a column header to sort.")  # fmt: skip
table.download_button(lambda: schools_view.export_table(schools_table), f"schools_{metric}_{year}")
