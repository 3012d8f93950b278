import streamlit as st

from components import chart, data, filters, page, table
from dashboard.views import partners as partners_view

engine, scope, years, year = page.year_page(
    "Community partners",
    "Businesses, nonprofits, congregations and others that give time, goods and services at our schools.",
)
view = filters.school_filters(engine, scope, year)
this_year = view.with_years(year)

by_year = data.partners_by_year(engine, view, scope)
if by_year.empty:
    st.info("No partnerships are recorded at the schools in view. Clear a filter in the sidebar to see more.")
    st.stop()
st.markdown(partners_view.totals_line(by_year, year))

st.subheader("In-kind value and partner volunteer hours by year")
chart.show(partners_view.value_trend(by_year, year), "partner_trend",
           "In-kind value and partner volunteer hours by year", "partners")  # fmt: skip
st.caption(f"Totals at the schools in view; {year} in orange.")
table.data_expander(by_year, "partners_by_year")

by_category = data.partners_by_category(engine, this_year, scope)
if by_category.empty:
    st.info(
        f"No partnerships are recorded at the schools in view in {year}. Pick another school year or clear a filter."
    )
    st.stop()

st.subheader(f"Partners by category, {year}")
chart.show(partners_view.category_bars(by_category), "partner_categories", f"Partners by category, {year}", "partners")
table.data_expander(partners_view.category_table(by_category), f"partners_by_category_{year}")

st.subheader(f"Schools reached per partner, {year}")
reach = data.partner_reach(engine, this_year, scope)
bins = partners_view.reach_bins(reach)
chart.show(partners_view.reach_histogram(bins, partners_view.reach_median(reach)), "partner_reach",
           f"Schools reached per partner, {year}", "partners")  # fmt: skip
st.caption(partners_view.reach_caption(reach))
table.data_expander(bins, f"partner_reach_{year}")

st.subheader(f"Support partners give, by partner category, {year}")
matrix = data.partner_support_matrix(engine, this_year, scope)
chart.show(partners_view.support_heatmap(matrix), "partner_supports",
           f"Support partners give, by partner category, {year}", "partners")  # fmt: skip
st.caption(partners_view.support_caption(matrix, year))
table.data_expander(partners_view.support_table(matrix), f"partner_supports_{year}")

st.subheader(f"Top partners, {year}")
show_all = st.toggle("Show every partner", key="partners_show_all")
top = data.top_partners(engine, this_year, scope, None if show_all else partners_view.TOP_N)
st.caption(partners_view.top_caption(top, reach, year))
shown = partners_view.top_table(top)
st.dataframe(
    shown,
    hide_index=True,
    height=600 if show_all else "content",
    column_config={
        "In-kind value (USD)": st.column_config.NumberColumn(format="dollar", step=1),
        "Volunteer hours": st.column_config.NumberColumn(format="localized"),
    },
)
table.download_button(shown, f"top_partners_{year}")
