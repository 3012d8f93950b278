import streamlit as st

from components import brief, chart, data, filters, page, roi_panel, table
from dashboard import formatting, privacy, roi
from dashboard.data import queries
from dashboard.views import roi as roi_view

engine, scope, years, year = page.year_page(
    "Return on investment",
    "What each dollar given returns to students and society: the published studies, then our own model.",
)
preset, assumptions = roi_panel.assumptions()
filters.note(f"Assumptions: {preset}")

st.subheader("What the studies found")
roi_panel.published(roi.PUBLISHED_ESTIMATES)
table.data_expander(roi_view.published_estimates(roi.PUBLISHED_ESTIMATES), "roi_published_estimates", "Sources")

finances = roi_panel.finances_by_category(engine, queries.Filters(), scope)
totals = data.kpi_totals(engine, queries.Filters(), scope)
partners = data.partners_by_year(engine, queries.Filters(), scope)
graduation = data.outcome_rates(engine, queries.Filters(school_years=(year,)), scope, by_tier=False)
inputs = roi_view.inputs_for_year(year, finances, graduation, totals, partners)
result = roi_view.published_result(roi_panel.evaluate_or_stop(inputs, assumptions, year), totals, year)

st.subheader(f"Our model, school year {year}")
st.caption(f"Recomputed from this dashboard's data with the {preset} assumptions (adjust them in the sidebar).")
roi_panel.headline(result)
brief.download(engine, queries.Filters(), scope, year)

if preset in roi.PRESET_TARGETS:
    st.subheader(f"From the study's ${roi.PRESET_TARGETS[preset]:,.2f} to ours")
    st.caption("Each bar moves the study's own network one input closer to ours, on the preset's own assumptions "
               "(the sliders do not move this chart): the ratio depends on what each student costs and brings, not "
               "on the network's size.")  # fmt: skip
    try:
        steps = roi.bridge(inputs, roi.PRESETS[preset])
    except ValueError:
        st.info(f"No students served or no seniors in {year}, so there is nothing to compare with the study.")
    else:
        chart.show(roi_view.bridge_chart(steps), "roi_bridge",
                   f"From the study's ${roi.PRESET_TARGETS[preset]:,.2f} to ours, {year}", "model")  # fmt: skip
        st.markdown(formatting.markdown_text(roi_view.bridge_sentence(steps, preset)))
        table.data_expander(steps, "roi_bridge")

st.subheader("Which assumptions matter most")
st.caption(
    "The benefit/cost ratio when each assumption is 20% lower or higher, the rest held fixed; those that do not move it are listed only in the data."
)
swings = roi.tornado(inputs, assumptions)
chart.show(roi_view.tornado(swings), "roi_tornado", f"Which assumptions matter most, {year}", "model")
table.data_expander(roi_view.tornado_table(swings), "roi_tornado")

st.subheader("Cost per student by year")
per_student = roi_view.cost_per_student_by_year(finances, totals)
chart.show(roi_view.cost_per_student(per_student, highlight=year), "roi_cost_per_student", "Cost per student by year",
           "finances")  # fmt: skip
table.data_expander(privacy.with_labels(per_student), "roi_cost_per_student")

st.subheader("Where the money comes from")
mix = roi_view.funding_mix(finances)
chart.show(roi_view.funding_mix_chart(mix), "roi_funding_mix", "Where the money comes from", "finances")
table.data_expander(mix, "roi_funding_mix")
