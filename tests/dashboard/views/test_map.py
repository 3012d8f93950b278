"""The Map page's queries and folium map: figures against pandas, scope, suppression, local assets, escaping."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest

from dashboard import privacy
from dashboard.data import queries
from dashboard.views import map as map_view

YEAR = "2022-23"
EVIL = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)")


def _raw_year(raw) -> pd.DataFrame:
    sy = raw["school_years"]
    return sy[sy["school_year"] == YEAR].merge(raw["schools"], on="school_id")


def _a_small_affiliate(raw) -> str:
    return _raw_year(raw)["affiliate_id"].value_counts().index[-1]


def test_schools_on_the_map_match_the_raw_tables(engine, raw) -> None:
    frame = queries.map_schools(engine, queries.Filters(), queries.EVERYTHING, YEAR).set_index("school_id")
    expected = _raw_year(raw).set_index("school_id")
    assert set(frame.index) == set(expected.index)
    assert (frame["students_served"] == expected.loc[frame.index, "students_served"]).all()
    assert (frame["case_managed"] == expected.loc[frame.index, "tier3_students"]).all()
    ps = raw["partnerships"]
    partners = ps[ps["school_year"] == YEAR].groupby("school_id")["partner_id"].nunique()
    assert (frame["partners"] == partners.reindex(frame.index, fill_value=0)).all()


def test_affiliates_and_partners_on_the_map_match_the_raw_tables(engine, raw) -> None:
    aff = queries.map_affiliates(engine, queries.Filters(states=("NC",)), queries.EVERYTHING, YEAR)
    year = _raw_year(raw)
    nc = year[year["state"] == "NC"].groupby("affiliate_id")
    assert dict(zip(aff["affiliate_id"], aff["students_served"], strict=True)) == nc["students_served"].sum().to_dict()
    assert dict(zip(aff["affiliate_id"], aff["schools"], strict=True)) == nc.size().to_dict()

    par = queries.map_partners(engine, queries.Filters(), queries.EVERYTHING, YEAR).set_index("partner_id")
    ps = raw["partnerships"]
    ps = ps[ps["school_year"] == YEAR].groupby("partner_id")
    assert set(par.index) == set(ps.groups)
    assert (par["schools_served"] == ps["school_id"].nunique().loc[par.index]).all()
    assert np.allclose(par["in_kind_usd"], ps["in_kind_usd"].sum().loc[par.index])
    assert (par["school_id"] == ps["school_id"].min().loc[par.index]).all()


def test_an_affiliate_lead_sees_only_its_own_places(engine, raw) -> None:
    mine = _a_small_affiliate(raw)
    scope = queries.Scope(frozenset({mine}))
    schools = queries.map_schools(engine, queries.Filters(), scope, YEAR)
    year = _raw_year(raw)
    assert set(schools["school_id"]) == set(year.loc[year["affiliate_id"] == mine, "school_id"])
    assert set(queries.map_affiliates(engine, queries.Filters(), scope, YEAR)["affiliate_id"]) == {mine}
    partners = queries.map_partners(engine, queries.Filters(), scope, YEAR)
    assert set(partners["affiliate_id"]) <= {mine}
    ps = raw["partnerships"]
    theirs = ps[(ps["school_year"] == YEAR) & ps["school_id"].isin(schools["school_id"])]
    assert set(partners["partner_id"]) == set(theirs["partner_id"])
    assert (partners["schools_served"] == theirs.groupby("partner_id")["school_id"].nunique().loc[partners["partner_id"]].to_numpy()).all()  # fmt: skip

    other = year.loc[year["affiliate_id"] != mine, "affiliate_id"].iloc[0]
    other_school = year.loc[year["affiliate_id"] == other, "school_id"].iloc[0]
    for crafted in (queries.Filters(affiliates=(other,)), queries.Filters(schools=(other_school,))):
        assert queries.map_schools(engine, crafted, scope, YEAR).empty
        assert queries.map_affiliates(engine, crafted, scope, YEAR).empty
        assert queries.map_partners(engine, crafted, scope, YEAR).empty


def _partners_frame(**overrides) -> pd.DataFrame:
    row = {
        "partner_id": "P1", "name": "Acme", "category": "business", "state": "NC", "city": "Raleigh",
        "latitude": 35.78, "longitude": -78.64, "approximate_location": False, "schools_served": 2,
        "in_kind_usd": 1234.0, "volunteer_hours": 56.0, "school_id": "S1", "school_name": "Lincoln High",
        "affiliate_id": "A1", "school_state": "NC", "school_latitude": 35.9, "school_longitude": -78.9,
        "school_approximate_location": True,
    }  # fmt: skip
    return pd.DataFrame([{**row, **overrides}])


def test_a_partner_is_placed_at_its_school_unless_the_contract_gave_its_own_coordinates() -> None:
    own = map_view.place_partners(_partners_frame()).iloc[0]
    assert (own["latitude"], own["longitude"], own["placed_at_school"]) == (35.78, -78.64, "")
    assert not own["approximate_location"]
    for missing in ({"latitude": np.nan, "longitude": np.nan}, {"approximate_location": True}):
        at_school = map_view.place_partners(_partners_frame(**missing)).iloc[0]
        assert (at_school["latitude"], at_school["longitude"]) == (35.9, -78.9)
        assert at_school["placed_at_school"] == "Lincoln High"
        assert at_school["approximate_location"]  # the school's flag comes along


@pytest.fixture(scope="module")
def frames(sqlite_engine) -> dict[str, pd.DataFrame]:
    f = queries.Filters()
    return {
        "schools": queries.map_schools(sqlite_engine, f, queries.EVERYTHING, YEAR),
        "affiliates": queries.map_affiliates(sqlite_engine, f, queries.EVERYTHING, YEAR),
        "partners": queries.map_partners(sqlite_engine, f, queries.EVERYTHING, YEAR),
        "states": queries.kpi_totals(sqlite_engine, f.with_years(YEAR), queries.EVERYTHING, "state"),
    }


def _places(frames, schools=None) -> pd.DataFrame:
    return map_view.places(frames["schools"] if schools is None else schools, frames["affiliates"], frames["partners"])


def test_small_counts_are_suppressed_in_popups_and_download(frames) -> None:
    schools = frames["schools"].copy()
    first_id = schools["school_id"].iloc[0]
    other = schools[(schools["affiliate_id"] == schools["affiliate_id"].iloc[0]) & (schools["school_id"] != first_id)]
    assert len(other)
    # The stored decision is applied as it is: a small school, and one more hidden to protect it.
    schools.loc[schools.index[0], ["students_served_status", "case_managed_status"]] = ["small", "small"]
    schools.loc[other.index[0], ["students_served_status", "case_managed_status"]] = ["hidden", "shown"]
    places = _places(frames, schools)
    school_rows = places[places["layer"] == "school"].set_index("place_id")
    first, second = school_rows.loc[first_id], school_rows.loc[other["school_id"].iloc[0]]
    assert first["suppressed"] and pd.isna(first["students_served"]) and pd.isna(first["case_managed"])
    assert second["suppressed"] and pd.isna(second["students_served"])
    assert second["case_managed"] == other["case_managed"].iloc[0]  # each count has its own status
    rows = {r[2]: r for r in map_view.layer_rows(places, "school")}
    assert rows[first_id][5][:2] == ["<10", "<10"]
    assert rows[other["school_id"].iloc[0]][5][0] == "hidden"  # hidden only to protect another: not '<10'
    exported = map_view.export_frame(places).set_index("place_id")
    assert exported.loc[first_id, ["students_served", "case_managed"]].tolist() == ["<10", "<10"]
    assert exported.loc[other["school_id"].iloc[0], "students_served"] == "hidden"
    assert not [c for c in exported.columns if c.endswith("_status")]


def test_the_map_decides_no_suppression_of_its_own(frames) -> None:
    """A count whose stored status is shown is shown, whatever its size: the decision was made with the cells."""
    schools = frames["schools"].copy()
    schools.loc[schools.index[0], ["students_served", "case_managed"]] = [7, 2]
    schools.loc[schools.index[0], ["students_served_status", "case_managed_status"]] = ["shown", "shown"]
    row = _places(frames, schools).query("layer == 'school'").iloc[0]
    assert not row["suppressed"] and (row["students_served"], row["case_managed"]) == (7, 2)


def test_state_totals_count_every_school_and_colour_by_class(frames, raw) -> None:
    totals = map_view.state_totals(frames["states"])
    expected = _raw_year(raw).groupby("state")["students_served"].sum()
    shown = totals.set_index("state")["students_served"].dropna()
    assert (shown == expected.loc[shown.index]).all() and len(shown) >= len(expected) - 2
    breaks = map_view.state_breaks(totals)
    assert breaks == sorted(breaks)
    biggest = expected.idxmax()
    assert map_view.state_colour(expected[biggest], False, breaks) == map_view.STATE_COLOURS[-1]
    assert map_view.state_colour(None, False, breaks) == map_view.NO_DATA_COLOUR
    assert map_view.state_colour(5, True, breaks) == map_view.SUPPRESSED_COLOUR


def test_every_asset_is_local(frames) -> None:
    fmap = map_view.build_map(_places(frames), map_view.state_totals(frames["states"]), YEAR, map_view.MapSettings())
    urls = map_view.asset_urls(fmap)
    assert urls and all(u.startswith("/app/static/map/") for u in urls)
    html = map_view.render_html(fmap)
    linked = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert linked and all(u.startswith("/app/static/map/") for u in linked), linked
    # The page without its packed places: their base-64 digits may spell anything, "cdn" included.
    assert "cdn" not in fmap.get_root().render().lower() and "https://" not in "".join(linked)
    for url in set(linked):
        assert (map_view.STATIC / url.removeprefix("/app/static/map/")).is_file(), url


def test_asset_base_follows_the_server_base_path() -> None:
    assert map_view.asset_base("") == "/app/static/map/"
    assert map_view.asset_base("/dash/") == "/dash/app/static/map/"


def test_an_element_that_needs_a_cdn_asset_is_refused() -> None:
    import folium

    fmap = folium.Map(tiles=None)
    folium.Marker([35, -80], icon=folium.Icon(icon="info-sign")).add_to(fmap)
    fmap.default_js = [*fmap.default_js, ("somelib", "https://cdn.example.org/somelib.js")]
    with pytest.raises(ValueError, match="somelib"):
        map_view.use_local_assets(fmap, "/app/static/map/")


def test_names_from_the_data_are_never_markup(frames) -> None:
    schools = frames["schools"].copy()
    for i, name in enumerate(EVIL):
        schools.loc[schools.index[i], "name"] = name
    partners = frames["partners"].copy()
    partners.loc[partners.index[0], "name"] = EVIL[0]
    places = map_view.places(schools, frames["affiliates"], partners)
    html = map_view.build_map(places, map_view.state_totals(frames["states"]), YEAR, map_view.MapSettings())
    html = map_view.render_html(html)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in html  # the name is there, as JSON text
    # popups set text, never HTML; the tooltip (HTML in Leaflet) goes through esc()
    assert "textContent" in html and "bindTooltip(esc(name(m.place))" in html
    assert "innerHTML" not in html.replace(
        'box.innerHTML = "<summary>Legend</summary>" + ', ""
    )  # only the legend's fixed HTML
    # a link is built from ids and the year, never from a name
    assert re.search(r'link\("Open in Outcomes", "outcomes", \{state: state\(i\), affiliate: affiliate\(i\)', html)


def test_a_click_is_read_from_the_tooltip_suffix_only() -> None:
    assert map_view.clicked("Lincoln High|school:370001") == ("school", "370001")
    assert map_view.clicked("North Carolina: 1,234 students served|state:NC") == ("state", "NC")
    assert map_view.clicked("Evil|school:other name|partner:P000001") == ("partner", "P000001")
    for junk in (None, {}, "", "no id", "x|school:<script>", "x|admin:1"):
        assert map_view.clicked(junk) is None


def _marker(places: pd.DataFrame, layer: str, place_id: str) -> str:
    """The marker number the map gives a place: its position among the layer's places with coordinates."""
    drawn = places[(places["layer"] == layer) & places["latitude"].notna() & places["longitude"].notna()]
    return str(drawn["place_id"].tolist().index(place_id))


def test_the_card_of_a_clicked_place(frames) -> None:
    places = _places(frames)
    school = places[places["layer"] == "school"].iloc[3]
    marker = _marker(places, "school", school["place_id"])
    card = map_view.card(places, map_view.state_totals(frames["states"]), ("school", marker), YEAR)
    assert card.title == school["name"]
    shown = school["students_served_status"] == "shown"
    assert dict(card.figures)["Students served"] == (
        f"{int(school['students_served']):,}" if shown else privacy.count_label(school["students_served_status"])
    )
    assert card.outcomes_params == {"state": school["state"], "affiliate": school["affiliate_id"], "year": YEAR}
    assert card.profile_params == {"affiliate": school["affiliate_id"], "year": YEAR}
    state = map_view.card(places, map_view.state_totals(frames["states"]), ("state", "NC"), YEAR)
    assert state.title == "North Carolina" and state.profile_params is None
    assert map_view.card(places, map_view.state_totals(frames["states"]), ("school", "nope"), YEAR) is None
    beyond = str((places["layer"] == "school").sum())
    assert map_view.card(places, map_view.state_totals(frames["states"]), ("school", beyond), YEAR) is None
    empty = map_view.card(places, map_view.state_totals(frames["states"]).iloc[0:0], ("state", "WY"), YEAR)
    assert empty.title == "Wyoming" and empty.figures == ()
    assert map_view.card(places, map_view.state_totals(frames["states"]), ("state", "ZZ"), YEAR) is None


def test_an_approximate_location_is_said_so(frames) -> None:
    schools = frames["schools"].copy()
    schools.loc[schools.index[0], "approximate_location"] = True
    places = _places(frames, schools)
    sid = schools["school_id"].iloc[0]
    rows = {r[2]: r for r in map_view.layer_rows(places, "school")}
    assert rows[sid][6] == 1 and rows[schools["school_id"].iloc[1]][6] == 0
    card = map_view.card(places, map_view.state_totals(frames["states"]), ("school", _marker(places, "school", sid)),
                         YEAR)  # fmt: skip
    assert map_view.APPROXIMATE_NOTE in card.notes


def test_markdown_text_shows_names_as_written() -> None:
    assert map_view.markdown_text("[x](javascript:alert(1)) *b* <i>") == (
        "\\[x\\]\\(javascript\\:\u2060alert\\(1\\)\\) \\*b\\* \\<i\\>"
    )


def _repeated(frames, repeat: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The test network (a fifth of the demo's) `repeat` times over, each copy's ids and names its own."""

    def copies(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
        return pd.concat([frame.assign(**{id_column: frame[id_column] + f"-{i}", "name": frame["name"] + f" {i}"})
                          for i in range(repeat)], ignore_index=True)  # fmt: skip

    return copies(frames["schools"], "school_id"), copies(frames["partners"], "partner_id")


def test_the_whole_network_at_ten_times_fits_in_five_megabytes(frames) -> None:
    """The issue's 10x network is about 35,800 schools and 85,000 partners, drawn at the national view."""
    schools, partners = _repeated(frames, 50)
    assert len(schools) >= 30_000 and len(partners) >= 75_000
    assert map_view.draws_points(len(schools), len(partners))
    places = map_view.places(schools, frames["affiliates"], partners)
    html = map_view.render_html(
        map_view.build_map(places, map_view.state_totals(frames["states"]), YEAR, map_view.MapSettings())
    )
    assert len(html.encode()) < 5_000_000, f"{len(html.encode()):,} bytes"


B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}


def _digits(text: str, width: int) -> list[int]:
    values = []
    for at in range(0, len(text), width):
        value = 0
        for c in text[at : at + width]:
            value = value * 64 + B64[c]
        values.append(value)
    return values


def _unpack(column) -> list:
    return column if isinstance(column, list) else [column["v"][k] for k in _digits(column["c"], column["w"])]


def _unpack_texts(packed: dict) -> list[str]:
    return [packed["s"].join(packed["v"][k] for k in _digits(t, packed["w"])) for t in packed["t"].split(" ")]


def test_the_packed_layer_unpacks_to_every_row(frames) -> None:
    """What the browser unpacks (read here without the map's code) is each row, names and figures exactly."""
    schools = frames["schools"].copy()
    schools.loc[schools.index[0], "name"] = "  Two  spaces · and a dot "  # separators inside the text itself
    schools.loc[schools.index[1], "name"] = ""
    places = _places(frames, schools)
    for layer in ("affiliate", "school", "partner"):
        rows = map_view.layer_rows(places, layer)
        packed = json.loads(json.dumps(map_view.layer_data(rows)))
        assert packed["n"] == len(rows)
        lat = [v / 1e4 - 90 for v in _digits(packed["lat"], 4)]
        lon = [v / 1e4 - 180 for v in _digits(packed["lon"], 4)]
        assert np.allclose(lat, [r[0] for r in rows], atol=1e-9) and np.allclose(lon, [r[1] for r in rows], atol=1e-9)
        sub = places[places["layer"] == layer].dropna(subset=["latitude", "longitude"])
        assert np.allclose(lat, sub["latitude"].astype(float), atol=6e-5), "within 11 m of the place"
        assert _unpack_texts(packed["name"]) == sub["name"].tolist()
        assert _unpack_texts(packed["detail"]) == sub["detail"].tolist()
        figures = [_unpack(c) for c in packed["figures"]]
        assert [list(f) for f in zip(*figures, strict=True)] == [r[5] for r in rows]
        assert _unpack(packed["state"]) == sub["state"].astype(str).tolist()
        assert _unpack(packed["affiliate"]) == sub["affiliate_id"].astype(str).tolist()
        assert _unpack(packed["approximate"]) == sub["approximate_location"].astype(int).tolist()
    school_rows = map_view.layer_rows(places, "school")
    first = places[places["layer"] == "school"].iloc[0]
    shown = first["students_served_status"] == "shown"
    assert school_rows[0][5][0] == (int(first["students_served"]) if shown else
                                    privacy.count_label(first["students_served_status"]))  # fmt: skip


def test_vendored_files_are_the_recorded_ones() -> None:
    sources = json.loads((map_view.STATIC / "SOURCES.json").read_text())
    assert {s["file"] for s in sources} >= set(map_view.LOCAL_ASSETS.values()) | {"us-states.geojson"}
    for s in sources:
        assert hashlib.sha256((map_view.STATIC / s["file"]).read_bytes()).hexdigest() == s["sha256"], s["file"]
        assert s["package"] and s["licence"]
    states = map_view.state_outlines()["features"]
    assert len(states) == 51 and {f["properties"]["code"] for f in states} >= {"DC", "AK", "HI", "NC"}


def test_a_leads_state_totals_ignore_the_school_attribute_filters() -> None:
    view = queries.Filters(states=("NC",), levels=("alternative",), locales=("rural",), title_i=False)
    lead = queries.Scope(frozenset({"NC-CHARLOTTE"}))
    assert map_view.benchmark_filters(view, lead, "2024-25") == queries.Filters(
        school_years=("2024-25",), states=("NC",)
    )
    assert map_view.benchmark_filters(view, queries.EVERYTHING, "2024-25") == view.with_years("2024-25")
