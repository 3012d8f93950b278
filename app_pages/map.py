import streamlit as st

from components import filters, folium_map, page, table
from dashboard import config
from dashboard.views import map as map_view

engine, scope, years, year = page.year_page(
    "Map", "Affiliates, schools and community partners, over the students served in each state."
)
view = filters.school_filters(engine, scope, year)
threshold = config.get("suppression_threshold")
settings = map_view.MapSettings(
    asset_base=map_view.asset_base(st.get_option("server.baseUrlPath")),
    tile_url=config.get("tile_url"),
    tile_attribution=config.get("tile_attribution"),
    threshold=threshold,
)
drawn = folium_map.drawn(engine, view, scope, year, settings)
places, totals = drawn.places, drawn.totals

if scope.affiliates is not None:
    st.caption("Your affiliates' schools and partners are on the map; other places count only in the state totals.")
if totals.empty:
    st.info(f"No schools match these filters in {year}. Clear a filter in the sidebar to see more.")
    st.stop()
if not drawn.draws_points:
    st.info(map_view.too_many_text(drawn.schools_in_view, drawn.partners_in_view), icon=":material/zoom_in:")


def show_card(card: map_view.Card | None) -> None:
    """The clicked place beside the map, with links that carry it to Outcomes and the affiliate profile."""
    if card is None:
        st.info("Click a state or a marker to see its figures here. Clusters open as you zoom in.")
        return
    st.subheader(map_view.markdown_text(card.title), anchor=False)
    st.caption(map_view.markdown_text(card.detail))
    for label, value in card.figures:
        st.metric(label, value)
    for note in card.notes:
        st.warning(map_view.markdown_text(note), icon=":material/location_off:")
    st.page_link("app_pages/outcomes.py", label="Open in Outcomes", icon=":material/bar_chart:",
                 query_params=card.outcomes_params)  # fmt: skip
    if card.profile_params is not None:
        st.page_link("app_pages/profile.py", label="Affiliate profile", icon=":material/id_card:",
                     query_params=card.profile_params)  # fmt: skip


@st.fragment
def map_and_card() -> None:
    """Map and card rerun alone on a click: the page's queries above are not asked again."""
    left, right = st.columns([3, 1])
    with left:
        event = folium_map.show(drawn, key="map")
    with right:
        key = map_view.clicked((event or {}).get("last_object_clicked_tooltip"))
        show_card(map_view.card(places, totals, key, year, threshold) if key else None)


map_and_card()
missing = map_view.unplaced(places)
if missing:
    st.caption(f"{missing:,} places have no coordinates and are not drawn; they are in the data below.")
table.data_expander(map_view.export_frame(places), f"map_places_{year}", "Data: places on the map")
table.data_expander(map_view.state_export(totals), f"map_students_by_state_{year}", "Data: students served by state")
