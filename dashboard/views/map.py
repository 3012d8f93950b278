"""The Map page's folium map: clustered layers of affiliates, schools and partners over a state choropleth.

Every browser asset comes from the app itself (static/map/, served at /app/static/map/), never from a CDN, so the
map works on a closed network. Names from the data reach the browser only as JSON data and are put on the page
as text (textContent, or HTML-escaped where Leaflet takes HTML), never as markup.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import re
from dataclasses import dataclass

import folium
import folium.plugins
import folium.template
import numpy as np
import pandas as pd
from branca.element import Element, MacroElement
from jinja2 import Template

from dashboard import config, disclosure, formatting, privacy
from dashboard.data import geo, queries

STATIC = config.ROOT / "static" / "map"
STATES_FILE = STATIC / "us-states.geojson"

# folium's asset names -> files under static/map/ (tools/vendor_map_assets.py; sources in static/map/SOURCES.json).
LOCAL_ASSETS = {
    "leaflet": "leaflet/leaflet.js",
    "jquery": "jquery/jquery.min.js",
    "markerclusterjs": "markercluster/leaflet.markercluster.js",
    "leaflet_css": "leaflet/leaflet.css",
    "markerclustercss": "markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": "markercluster/MarkerCluster.Default.css",
}
# Bootstrap and the awesome-markers icon font serve folium.Icon and its modals, which this map does not use.
UNUSED_ASSETS = frozenset(
    {
        "bootstrap",
        "awesome_markers",
        "bootstrap_css",
        "glyphicons_css",
        "awesome_markers_font_css",
        "awesome_markers_css",
        "awesome_rotate_css",
    }
)

LAYER_NAMES = {"affiliate": "Affiliates", "school": "Schools and sites", "partner": "Community partners"}
# Okabe-Ito, apart from the greens of the choropleth underneath.
LAYER_COLOURS = {"affiliate": "#D55E00", "school": "#0072B2", "partner": "#CC79A7"}
STATE_COLOURS = ("#f7fcb9", "#d9f0a3", "#addd8e", "#78c679", "#31a354")
NO_DATA_COLOUR = "#F3F4F6"
SUPPRESSED_COLOUR = "#D1D5DB"
APPROXIMATE_NOTE = "Location approximate: placed at the city or state centre."
KIND_LABELS = {"affiliate": "Affiliate", "licensed_partner": "Licensed partner", "state_office": "State office"}
FIGURES: dict[str, tuple[tuple[str, str], ...]] = {
    "affiliate": (
        ("Schools and sites", "schools"),
        ("Students served", "students_served"),
        ("Case-managed (tier 3)", "case_managed"),
    ),
    "school": (
        ("Students served", "students_served"),
        ("Case-managed (tier 3)", "case_managed"),
        ("Community partners", "partners"),
    ),
    "partner": (
        ("Schools served", "schools"),
        ("In-kind support", "in_kind_usd"),
        ("Volunteer hours", "volunteer_hours"),
    ),
}
PLACE_COLUMNS = [
    "layer",
    "place_id",
    "name",
    "detail",
    "state",
    "city",
    "affiliate_id",
    "latitude",
    "longitude",
    "approximate_location",
    "placed_at_school",
    "schools",
    "students_served",
    "case_managed",
    "partners",
    "in_kind_usd",
    "volunteer_hours",
    "suppressed",
    "students_served_status",
    "case_managed_status",
]
# Packed (layer_data), the page carries about 35 bytes per place: 150,000 places keep it under 5 MB, the whole
# network at 10x (about 121,000) included. Past that, schools and partners wait for a narrower view.
MAX_PLACES = 150_000
CLICK_KEY = re.compile(r"\|(affiliate|school|partner|state):([A-Za-z0-9_-]{1,40})$")


def asset_base(base_url_path: str = "") -> str:
    """The URL folder of the vendored assets, absolute from the server root (the map runs in a component iframe
    whose own URL is elsewhere, so a relative path would miss)."""
    prefix = "/".join(part for part in base_url_path.strip("/").split("/") if part)
    return f"/{prefix}/app/static/map/" if prefix else "/app/static/map/"


def _elements(element: object):
    yield element
    for child in getattr(element, "_children", {}).values():
        yield from _elements(child)


def use_local_assets(fmap: folium.Map, base: str) -> None:
    """Point every JS and CSS link of the map and its children at the vendored copies under `base`.

    Raises ValueError for an asset that has no local copy, so a new element that needs a CDN fails in the tests
    rather than leaving a blank map on a closed network.
    """
    for element in _elements(fmap):
        for attr in ("default_js", "default_css"):
            links = getattr(element, attr, None)
            if not links:
                continue
            local = []
            for name, url in links:
                if name in LOCAL_ASSETS:
                    local.append((name, base + LOCAL_ASSETS[name]))
                elif url.startswith(base):
                    local.append((name, url))
                elif name not in UNUSED_ASSETS:
                    raise ValueError(f"{type(element).__name__} needs {name} ({url}), which is not vendored")
            setattr(element, attr, local)


def asset_urls(fmap: folium.Map) -> list[str]:
    """Every JS and CSS URL the map and its children ask the browser to load (what streamlit-folium sends)."""
    return [url for e in _elements(fmap) for attr in ("default_js", "default_css") for _, url in getattr(e, attr, [])]


@functools.cache
def state_outlines() -> dict:
    """The 50 states and DC (simplified Census outlines, vendored): FeatureCollection with `code` and `name`."""
    return json.loads(STATES_FILE.read_text())


def _count_text(value: object, status: object, threshold: int) -> str:
    """A student count as shown: its label when its stored status suppresses it ('<10', 'hidden'), else the number
    ('–' when there is none)."""
    if isinstance(status, str) and status != disclosure.SHOWN:
        return privacy.count_label(status, threshold)
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return f"{int(value):,}"


def _located(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["latitude"].notna() & frame["longitude"].notna()]


def place_partners(partners: pd.DataFrame) -> pd.DataFrame:
    """Partners with the coordinates the map uses: their own when the contract gave them (not approximate),
    else those of the first school they serve in view; `placed_at_school` names that school."""
    own = partners["latitude"].notna() & partners["longitude"].notna() & ~partners["approximate_location"]
    out = partners.copy()
    out["latitude"] = partners["latitude"].where(own, partners["school_latitude"])
    out["longitude"] = partners["longitude"].where(own, partners["school_longitude"])
    out["approximate_location"] = partners["approximate_location"].where(own, partners["school_approximate_location"])
    out["placed_at_school"] = partners["school_name"].where(~own, "")
    return out


def _school_details(schools: pd.DataFrame) -> list[str]:
    """'High · Raleigh, NC · City · Title I · <affiliate>' for each school."""
    return [
        f"{level.replace('_', ' ').capitalize()} · {city}, {state} · {locale.capitalize()} · "
        f"{'Title I' if title_i else 'Not Title I'} · {affiliate}"
        for level, city, state, locale, title_i, affiliate in zip(
            schools["level"],
            schools["city"],
            schools["state"],
            schools["locale"],
            schools["title_i"],
            schools["affiliate_name"],
            strict=True,
        )
    ]


def places(schools: pd.DataFrame | None, affiliates: pd.DataFrame, partners: pd.DataFrame | None) -> pd.DataFrame:
    """One row per place on the map (PLACE_COLUMNS), student counts blanked where their stored status
    ('<count>_status', queries.map_schools and map_affiliates) suppresses them; `suppressed` marks a place with any
    count blanked. Places without coordinates are left out (see `unplaced`). Schools and partners are None when
    there are too many to draw (see `draws_points`). Nothing is decided here.
    """
    aff = _affiliate_places(affiliates)
    sch = None if schools is None else _school_places(schools)
    par = None if partners is None else _partner_places(partners)
    frames = [f.reindex(columns=PLACE_COLUMNS) for f in (aff, sch, par) if f is not None and not f.empty]
    if not frames:
        return pd.DataFrame(columns=PLACE_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    for col in ("schools", "students_served", "case_managed", "partners"):
        out[col] = out[col].astype("Int64")
    out["approximate_location"] = out["approximate_location"].fillna(False).astype(bool)
    out["suppressed"] = out["suppressed"].fillna(False).astype(bool)
    return out


def _school_places(schools: pd.DataFrame) -> pd.DataFrame:
    sch = privacy.published_counts(schools)
    return sch.assign(
        layer="school",
        place_id=schools["school_id"],
        detail=_school_details(schools),
        schools=pd.NA,
        placed_at_school="",
        in_kind_usd=np.nan,
        volunteer_hours=np.nan,
    )


def _affiliate_places(affiliates: pd.DataFrame) -> pd.DataFrame:
    aff = privacy.published_counts(affiliates)
    return aff.assign(
        layer="affiliate",
        place_id=affiliates["affiliate_id"],
        detail=[
            f"{KIND_LABELS.get(k, k)} · {c}, {s}"
            for k, c, s in zip(affiliates["kind"], affiliates["city"], affiliates["state"], strict=True)
        ],
        partners=pd.NA,
        placed_at_school="",
        in_kind_usd=np.nan,
        volunteer_hours=np.nan,
    )


def _partner_places(partners: pd.DataFrame) -> pd.DataFrame:
    return place_partners(partners).assign(
        layer="partner",
        place_id=partners["partner_id"],
        detail=[
            f"{cat.replace('_', ' ').capitalize()} partner · {c}, {s}"
            for cat, c, s in zip(partners["category"], partners["city"], partners["state"], strict=True)
        ],
        affiliate_id=partners["affiliate_id"],
        state=partners["school_state"],
        schools=partners["schools_served"],
        students_served=pd.NA,
        case_managed=pd.NA,
        partners=pd.NA,
        suppressed=False,
    )


def draws_points(schools: int, partners: int) -> bool:
    """Whether the schools and partners in view are few enough (MAX_PLACES) to draw one marker each."""
    return schools + partners <= MAX_PLACES


def too_many_text(schools: int, partners: int) -> str:
    """Why the schools and partners are not drawn, and how to see them."""
    return (
        f"{schools:,} schools and {partners:,} community partners are in view, more than the {MAX_PLACES:,} places the "
        "map draws at once. The state totals and the affiliates are shown; choose a state or an affiliate in the "
        "sidebar to see the schools and partners."
    )


def unplaced(frame: pd.DataFrame) -> int:
    """How many places have no coordinates at all (not drawn)."""
    return int((frame["latitude"].isna() | frame["longitude"].isna()).sum())


def state_totals(by_state: pd.DataFrame) -> pd.DataFrame:
    """Students served and schools per state (kpi_totals at state level), students served blanked where its stored
    status suppresses it. Nothing is decided here."""
    frame = by_state[["state", "schools", "students_served", "students_served_status"]].copy()
    frame = privacy.published_counts(frame)
    frame.insert(1, "state_name", frame["state"].map(geo.state_name))
    return frame.reset_index(drop=True)


def state_breaks(totals: pd.DataFrame) -> list[float]:
    """Upper bounds of the choropleth's classes: quintiles of the states shown, at two significant figures."""
    values = totals["students_served"].dropna().astype(float)
    if values.empty:
        return []
    raw = np.quantile(values, [0.2, 0.4, 0.6, 0.8])
    nice = [float(f"{v:.2g}") for v in raw]
    return sorted(set(nice))


def state_colour(value: object, suppressed: bool, breaks: list[float]) -> str:
    """The fill of one state: a green by class, grey when suppressed, near-white when it has no schools in view."""
    if suppressed:
        return SUPPRESSED_COLOUR
    if value is None or value is pd.NA:
        return NO_DATA_COLOUR
    return STATE_COLOURS[int(np.searchsorted(breaks, float(value), side="right"))]


def _state_features(totals: pd.DataFrame, breaks: list[float], threshold: int) -> dict:
    by_code = totals.set_index("state")
    features = []
    for feature in state_outlines()["features"]:
        code = feature["properties"]["code"]
        row = by_code.loc[code] if code in by_code.index else None
        suppressed = bool(row["suppressed"]) if row is not None else False
        value = row["students_served"] if row is not None else None
        label = (
            _count_text(value, row["students_served_status"], threshold) if row is not None else "no schools in view"
        )
        features.append(
            {
                **feature,
                "properties": {
                    "code": code,
                    "name": feature["properties"]["name"],
                    "label": label,
                    "fill": state_colour(value, suppressed, breaks),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _js_data(value: object) -> str:
    """JSON for inline <script>: '<', '>' and '&' escaped, so no string can close the script element."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_HELPERS = """
function esc(s) {
  return String(s).replace(/[&<>"']/g, function (c) {
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
  });
}
function appUrl(page, params) {
  var base;
  try { base = window.parent.location.href; } catch (e) { base = document.referrer || window.location.href; }
  var url = new URL("./" + page, base);
  url.search = new URLSearchParams(params).toString();
  return url.href;
}
function el(tag, text, cls) {
  var e = document.createElement(tag);
  if (text) { e.textContent = text; }
  if (cls) { e.className = cls; }
  return e;
}
function link(text, page, params) {
  var a = el("a", text);
  a.href = appUrl(page, params);
  a.target = "_top";
  return a;
}
"""

# An expression (folium writes `var fill = <it>;`) giving the function that unpacks a layer's data (layer_data) into
# markers on its cluster. A marker's tooltip and popup are made when it is first hovered or clicked: 120,000 of
# each made up front would hold the page for seconds.
_FILL = (
    "(function () {\n  var cfg = %s;\n"
    + _HELPERS
    + """
  var DIGITS = "%s", DIGIT = {};
  for (var d = 0; d < 64; d++) { DIGIT[DIGITS.charAt(d)] = d; }
  function num(s, at, width) {
    var v = 0;
    for (var k = 0; k < width; k++) { v = v * 64 + DIGIT[s.charAt(at + k)]; }
    return v;
  }
  function column(c) {
    if (Array.isArray(c)) { return function (i) { return c[i]; }; }
    return function (i) { return c.v[num(c.c, i * c.w, c.w)]; };
  }
  function texts(t) {
    var parts = t.t.split(" ");
    return function (i) {
      var p = parts[i], words = [];
      for (var k = 0; k < p.length; k += t.w) { words.push(t.v[num(p, k, t.w)]); }
      return words.join(t.s);
    };
  }
  function grouped(n) { return String(n).replace(/\\B(?=(\\d{3})+(?!\\d))/g, ","); }
  function figureText(v, usd) {
    if (v === null || v === undefined) { return "\\u2013"; }
    return typeof v === "string" ? v : (usd ? "$" : "") + grouped(v);
  }
  return function (data, cluster) {
    var name = texts(data.name), detail = texts(data.detail), figures = data.figures.map(column);
    var approximate = column(data.approximate), state = column(data.state), affiliate = column(data.affiliate);
    var note = column(data.note);
    function popup(i) {
      var box = el("div", null, "map-popup");
      box.appendChild(el("strong", name(i)));
      box.appendChild(el("div", detail(i), "map-popup-detail"));
      var table = el("table");
      cfg.labels.forEach(function (label, k) {
        var tr = el("tr");
        tr.appendChild(el("td", label));
        tr.appendChild(el("td", figureText(figures[k](i), cfg.usd[k]), "map-popup-figure"));
        table.appendChild(tr);
      });
      box.appendChild(table);
      if (note(i)) { box.appendChild(el("div", note(i), "map-popup-note")); }
      if (approximate(i)) { box.appendChild(el("div", cfg.approximate, "map-popup-note map-popup-approximate")); }
      var links = el("div", null, "map-popup-links");
      links.appendChild(link("Open in Outcomes", "outcomes", {state: state(i), affiliate: affiliate(i), year: cfg.year}));
      links.appendChild(document.createTextNode(" \\u00b7 "));
      links.appendChild(link("Affiliate profile", "profile", {affiliate: affiliate(i), year: cfg.year}));
      box.appendChild(links);
      return box;
    }
    var exact = {pane: "markerPane", className: "map-marker map-marker-" + cfg.kind, radius: cfg.radius,
      color: "#FFFFFF", weight: 1, fillColor: cfg.colour, fillOpacity: 0.9};
    var approx = {pane: "markerPane", className: "map-marker map-marker-" + cfg.kind, radius: cfg.radius,
      color: cfg.colour, weight: 2, dashArray: "3 2", fillColor: cfg.colour, fillOpacity: 0.35};
    var markers = new Array(data.n), scale = Math.pow(10, cfg.digits);
    for (var i = 0; i < data.n; i++) {
      var at = i * cfg.width;
      markers[i] = L.circleMarker([num(data.lat, at, cfg.width) / scale - 90, num(data.lon, at, cfg.width) / scale - 180],
        approximate(i) ? approx : exact);
      markers[i].place = i;
    }
    // Registered before streamlit-folium's own click listener, so the tooltip it reads the click from is there.
    cluster.on("mouseover click", function (e) {
      var m = e.layer;
      if (!m || m.place === undefined || m.getTooltip()) { return; }
      m.bindTooltip(esc(name(m.place)) + '<span hidden>|' + cfg.kind + ':' + m.place + '</span>');
      m.bindPopup(function () { return popup(m.place); }, {maxWidth: 320});
      if (e.type === "click") { m.openPopup(); } else { m.openTooltip(); }
    });
    cluster.addLayers(markers);
  };
})()
"""
)

_CLUSTER_ICON = """function (cluster) {
  var n = cluster.getChildCount();
  var size = n < 100 ? 30 : (n < 1000 ? 38 : 46);
  return L.divIcon({
    html: '<div style="background:%s"><span>' + n + '</span></div>',
    className: 'map-cluster map-cluster-%s', iconSize: L.point(size, size)
  });
}"""

_STATE_EVENTS = (
    "function (feature, layer) {\n  var cfg = %s;\n"
    + _HELPERS
    + """
  var p = feature.properties;
  layer.options.className = "map-state map-state-" + p.code;
  layer.bindTooltip(esc(p.name) + ": " + esc(p.label) + " students served"
    + '<span hidden>|state:' + esc(p.code) + '</span>', {sticky: true});
  layer.bindPopup(function () {
    var box = el("div", null, "map-popup");
    box.appendChild(el("strong", p.name));
    box.appendChild(el("div", "Students served, " + cfg.year + ": " + p.label, "map-popup-detail"));
    var links = el("div", null, "map-popup-links");
    links.appendChild(link("Open in Outcomes", "outcomes", {state: p.code, year: cfg.year}));
    box.appendChild(links);
    return box;
  });
}"""
)

_CSS = """<style>
.leaflet-container { background: #F8FAFC; font: 13px/1.4 "Source Sans Pro", sans-serif; }
.map-cluster div { border-radius: 50%; width: 100%; height: 100%; display: flex; align-items: center;
  justify-content: center; color: #FFFFFF; font-weight: 600; box-shadow: 0 0 0 3px rgba(255,255,255,0.7); }
.map-popup { font-size: 13px; }
.map-popup strong { font-size: 14px; }
.map-popup-detail { color: #4B5563; font-size: 12px; margin: 2px 0 6px; }
.map-popup table td { padding: 1px 8px 1px 0; }
.map-popup-figure { font-weight: 600; text-align: right; }
.map-popup-note { color: #92400E; margin-top: 4px; }
.map-popup-links { margin-top: 6px; }
.map-legend { background: rgba(255,255,255,0.92); padding: 4px 8px; border-radius: 4px; font-size: 12px;
  line-height: 16px; }
.leaflet-control-layers { font-size: 12px; }
.map-legend summary { cursor: pointer; font-weight: 600; }
.map-legend[open] summary { margin-bottom: 2px; }
.map-legend i { display: inline-block; width: 14px; height: 12px; margin-right: 6px; border: 1px solid #9CA3AF; }
</style>"""


class _Places(folium.plugins.FastMarkerCluster):
    """A marker cluster filled from one layer's packed data (layer_data) by the _FILL script.

    The data joins the script after folium has rendered it: folium reads every rendered script again as a Jinja
    template, and with the data inside that costs more than building the map. The script carries a token instead,
    unique to the data (so streamlit-folium's component key still changes with it), and `with_places` puts the
    data in its place.
    """

    _template = folium.template.Template(  # folium's Template: it knows the tojavascript filter
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = (function(){
                var fill = {{ this.callback }};
                var cluster = L.markerClusterGroup({{ this.options|tojavascript }});
                cluster.options.iconCreateFunction = {{ this.icon_create_function.strip() }};
                // On the map before its markers: off the map, each marker added is looked for among those
                // waiting, which for 120,000 of them was seconds.
                cluster.addTo({{ this._parent.get_name() }});
                fill({{ this.token }}, cluster);
                return cluster;
            })();
        {% endmacro %}"""
    )

    def __init__(self, data: dict, fill: str, **kwargs: object) -> None:
        super().__init__([], **kwargs)
        self.callback = fill  # the expression as it is: folium would make it a `var callback = ...;` statement
        self.payload = _js_data(data)
        # Capitals and digits only: streamlit-folium's key hash strips '_' followed by lower case as element ids.
        self.token = "PLACES" + hashlib.sha256(self.payload.encode()).hexdigest().upper()


def with_places(text: str, fmap: folium.Map) -> str:
    """The map's rendered script or page with every place layer's rows in place of its token."""
    for element in _elements(fmap):
        if isinstance(element, _Places):
            text = text.replace(element.token, element.payload)
    return text


def render_html(fmap: folium.Map) -> str:
    """The whole map as one HTML page, places included."""
    return with_places(fmap.get_root().render(), fmap)


# Past this zoom (about 20 km across the map) every marker stands alone: the cluster plugin groups places for each
# zoom up to it, and stopping at 13 rather than the map's 18 makes a third less grouping to do as the page opens.
CLUSTER_UNTIL_ZOOM = 13
NARROW_PX = 600  # a map narrower than this (a phone) starts with its legend and layer list folded away


class _Legend(MacroElement):
    """A legend in the map's corner that folds into a "Legend" button on a narrow map, where it would cover the
    Southeast; its HTML is built from numbers and fixed words only."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        var legend_{{ this.get_name() }} = L.control({position: "bottomright"});
        legend_{{ this.get_name() }}.onAdd = function (map) {
            var box = L.DomUtil.create("details", "map-legend");
            box.innerHTML = "<summary>Legend</summary>" + {{ this.html|tojson }};
            box.open = map.getSize().x >= {{ this.narrow }};
            L.DomEvent.disableClickPropagation(box);
            return box;
        };
        legend_{{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}"""
    )

    def __init__(self, html_text: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.html = html_text
        self.narrow = NARROW_PX


class _LayerControl(folium.LayerControl):
    """folium's layer list, open on a wide map and folded into Leaflet's layers button on a narrow one."""

    _template = folium.template.Template(  # folium's Template: it knows the tojavascript filter
        """{% macro script(this, kwargs) %}
        let {{ this.get_name() }} = L.control.layers(
            {
            {%- for key, val in this.base_layers.items() %}
                {{ key|tojson }} : {{ val }},
            {%- endfor %}
            },
            {
            {%- for key, val in this.overlays.items() %}
                {{ key|tojson }} : {{ val }},
            {%- endfor %}
            },
            Object.assign({{ this.options|tojavascript }},
                          {collapsed: {{ this._parent.get_name() }}.getSize().x < {{ this.narrow }}})
        ).addTo({{ this._parent.get_name() }});
        {% endmacro %}"""
    )

    def __init__(self) -> None:
        super().__init__(collapsed=False)
        self.narrow = NARROW_PX


def _legend_html(breaks: list[float], threshold: int) -> str:
    rows = ["<b>Students served</b>"]
    lows = [0.0, *breaks]
    highs = [*breaks, None]
    for colour, low, high in zip(STATE_COLOURS, lows, highs, strict=False):
        text = f"{low:,.0f} or more" if high is None else f"{low:,.0f} – {high:,.0f}"
        rows.append(f'<i style="background:{colour}"></i>{html.escape(text)}')
    rows.append(f'<i style="background:{SUPPRESSED_COLOUR}"></i>{html.escape(privacy.suppressed_label(threshold))}')
    rows.append(f'<i style="background:{NO_DATA_COLOUR}"></i>no schools in view')
    for layer, colour in LAYER_COLOURS.items():
        rows.append(f'<i style="background:{colour};border-radius:50%"></i>{html.escape(LAYER_NAMES[layer])}')
    return "<br>".join(rows)


# A figure's display form in the popup and the card: a count, or dollars.
USD_FIGURES = frozenset({"in_kind_usd"})


def _figure_values(frame: pd.DataFrame, layer: str, threshold: int) -> list[list[int | str | None]]:
    """Per row of `frame`, the popup's figures of `layer`: a whole number where shown, the label of a suppressed
    count ('<10', 'hidden'), None where there is none."""
    columns: list[list[int | str | None]] = []
    for _, col in FIGURES[layer]:
        values = frame[col].tolist()
        statuses = frame[f"{col}_status"].tolist() if f"{col}_status" in frame else [None] * len(values)
        columns.append([
            privacy.count_label(s, threshold) if isinstance(s, str) and s != disclosure.SHOWN
            else None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
            else round(float(v))
            for v, s in zip(values, statuses, strict=True)
        ])  # fmt: skip
    return [list(values) for values in zip(*columns, strict=True)] if columns and len(frame) else []


def figure_text(value: int | str | None, column: str) -> str:
    """One popup figure as text: '1,234', '$8,850', a suppressed count's label, or '–' for none."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    return f"${value:,}" if column in USD_FIGURES else f"{value:,}"


def _figure_texts(frame: pd.DataFrame, layer: str, threshold: int) -> list[list[str]]:
    """Per row of `frame`, the popup's figures of `layer` as display text (suppressed counts as '<10')."""
    columns = [col for _, col in FIGURES[layer]]
    return [
        [figure_text(v, col) for v, col in zip(values, columns, strict=True)]
        for values in _figure_values(frame, layer, threshold)
    ]


def layer_rows(frame: pd.DataFrame, layer: str, threshold: int = 10) -> list[list]:
    """One row per marker of `layer`, in the order the map draws them (its click key is the row's number):
    [lat, lon, id, name, detail, [figure values], approximate (0/1), state, affiliate id, note]."""
    sub = _located(frame[frame["layer"] == layer])
    notes = [f"Shown at {s}, the school it serves." if s else "" for s in sub["placed_at_school"].fillna("")]
    affiliates = ["" if pd.isna(a) else str(a) for a in sub["affiliate_id"]]
    return [
        list(row)
        for row in zip(
            sub["latitude"].astype(float).round(COORDINATE_DIGITS).tolist(),
            sub["longitude"].astype(float).round(COORDINATE_DIGITS).tolist(),
            sub["place_id"].astype(str).tolist(),
            sub["name"].astype(str).tolist(),
            sub["detail"].astype(str).tolist(),
            _figure_values(sub, layer, threshold),
            sub["approximate_location"].astype(int).tolist(),
            sub["state"].astype(str).tolist(),
            affiliates,
            notes,
            strict=True,
        )
    ]


# The packed form the browser decodes (_FILL). Digits of base 64, URL-safe: JSON strings carry them unescaped.
DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_DIGIT_BYTES = np.frombuffer(DIGITS.encode("ascii"), dtype=np.uint8)
COORDINATE_DIGITS = 4  # about 11 m: finer than a marker, and 4 base-64 digits per coordinate
_COORDINATE_WIDTH = 4
_TOKEN_SEPARATORS = {"name": " ", "detail": " · "}


def _width(distinct: int) -> int:
    """Base-64 digits needed to number `distinct` values (at least 1)."""
    width = 1
    while 64**width < distinct:
        width += 1
    return width


def _number(values: list[int], width: int) -> str:
    """Each value as `width` base-64 digits, most significant first, all in one string."""
    array = np.asarray(values, dtype=np.int64).reshape(-1, 1)
    digits = (array >> (6 * np.arange(width - 1, -1, -1))) & 63
    return _DIGIT_BYTES[digits].tobytes().decode("ascii")


def _codes(values: list) -> dict:
    """Values as {"v": the distinct values, "w": digits per code, "c": one fixed-width code per row}."""
    vocab: dict = {}
    codes = [vocab.setdefault(value, len(vocab)) for value in values]
    width = _width(len(vocab))
    return {"v": list(vocab), "w": width, "c": _number(codes, width)}


def _column(values: list) -> dict | list:
    """A column as codes when it repeats enough to be shorter so, else as the plain list."""
    coded = _codes(values)
    return coded if len(_js_data(coded)) < len(_js_data(values)) else values


def _tokens(texts: list[str], separator: str) -> dict:
    """Texts as words: {"v": the distinct words, "w": digits per word, "s": separator, "t": each text's word codes,
    texts apart by a space (not a base-64 digit)}. Split and joined on the same separator, every text comes back
    exactly."""
    vocab: dict[str, int] = {}
    split = [text.split(separator) for text in texts]
    codes = [vocab.setdefault(word, len(vocab)) for words in split for word in words]
    width = _width(len(vocab))
    flat = _number(codes, width)
    ends = np.cumsum([len(words) * width for words in split]).tolist()
    starts = [0, *ends[:-1]] if ends else []
    return {"v": list(vocab), "w": width, "s": separator,
            "t": " ".join(flat[start:end] for start, end in zip(starts, ends, strict=True))}  # fmt: skip


def _coordinates(values: list[float], low: float) -> str:
    scale = 10**COORDINATE_DIGITS
    return _number([round((v - low) * scale) for v in values], _COORDINATE_WIDTH)


def layer_data(rows: list[list]) -> dict:
    """`layer_rows` packed for the page (about 35 bytes a place against 140-200 as rows): coordinates as fixed base-64
    numbers, names and details as word codes, repeated values as codes; the browser unpacks a row when its marker
    is hovered or clicked (_FILL)."""
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in range(10)]
    lat, lon, _ids, names, details, figures, approximate, states, affiliates, notes = (list(c) for c in columns)
    return {
        "n": len(rows),
        "lat": _coordinates(lat, -90.0),
        "lon": _coordinates(lon, -180.0),
        "name": _tokens(names, _TOKEN_SEPARATORS["name"]),
        "detail": _tokens(details, _TOKEN_SEPARATORS["detail"]),
        "figures": [_column(list(f)) for f in zip(*figures, strict=True)] if figures else [],
        "approximate": _codes(approximate),
        "state": _codes(states),
        "affiliate": _codes(affiliates),
        "note": _codes(notes),
    }


def _bounds(frame: pd.DataFrame) -> list[list[float]]:
    """South-west and north-east corners holding nearly every place (outliers such as Guam do not zoom out)."""
    located = _located(frame)
    if located.empty:
        return [[24.5, -125.0], [49.5, -66.9]]
    lat = located["latitude"].astype(float)
    lon = located["longitude"].astype(float)
    low, high = (0.01, 0.99) if len(located) >= 100 else (0.0, 1.0)
    return [
        [float(lat.quantile(low)) - 0.3, float(lon.quantile(low)) - 0.3],
        [float(lat.quantile(high)) + 0.3, float(lon.quantile(high)) + 0.3],
    ]


@dataclass(frozen=True)
class MapSettings:
    """Where assets come from and which base map to draw: `tile_url` empty means none (a plain background)."""

    asset_base: str = "/app/static/map/"
    tile_url: str = ""
    tile_attribution: str = ""
    threshold: int = 10


def build_map(places_frame: pd.DataFrame, totals: pd.DataFrame, year: str, settings: MapSettings) -> folium.Map:
    """The map: state choropleth of students served, then affiliates, schools and partners as clustered layers."""
    # maxZoom set on the map itself: the cluster plugin needs one, and without tiles nothing else gives it.
    fmap = folium.Map(location=[39.5, -98.35], zoom_start=4, tiles=None, control_scale=True)
    fmap.options.update(minZoom=2, maxZoom=18)
    fmap.get_root().header.add_child(Element(_CSS), name="map_css")
    if settings.tile_url:
        folium.TileLayer(
            tiles=settings.tile_url, attr=settings.tile_attribution or "Map tiles", name="Base map", control=False
        ).add_to(fmap)

    breaks = state_breaks(totals)
    cfg = {"year": year}
    folium.GeoJson(
        _state_features(totals, breaks, settings.threshold),
        name="States: students served",
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "fillOpacity": 0.75,
            "color": "#6B7280",
            "weight": 0.8,
        },
        on_each_feature=folium.JsCode(_STATE_EVENTS % _js_data(cfg)),
    ).add_to(fmap)

    for layer, radius in (("affiliate", 8), ("school", 6), ("partner", 5)):
        rows = layer_rows(places_frame, layer, settings.threshold)
        if not rows:
            continue
        layer_cfg = {
            "kind": layer,
            "year": year,
            "colour": LAYER_COLOURS[layer],
            "radius": radius,
            "labels": [label for label, _ in FIGURES[layer]],
            "usd": [col in USD_FIGURES for _, col in FIGURES[layer]],
            "approximate": APPROXIMATE_NOTE,
            "digits": COORDINATE_DIGITS,
            "width": _COORDINATE_WIDTH,
        }
        _Places(
            layer_data(rows),
            fill=_FILL % (_js_data(layer_cfg), DIGITS),
            name=f"{LAYER_NAMES[layer]} ({len(rows):,})",
            options={
                "chunkedLoading": True,
                "showCoverageOnHover": False,
                "maxClusterRadius": 50,
                "disableClusteringAtZoom": CLUSTER_UNTIL_ZOOM,
            },
            icon_create_function=_CLUSTER_ICON % (LAYER_COLOURS[layer], layer),
        ).add_to(fmap)

    _Legend(_legend_html(breaks, settings.threshold)).add_to(fmap)
    _LayerControl().add_to(fmap)
    fmap.fit_bounds(_bounds(places_frame))
    use_local_assets(fmap, settings.asset_base)
    return fmap


def clicked(tooltip: object) -> tuple[str, str] | None:
    """(layer, key) from the tooltip text streamlit-folium returns for a click ('Name|school:12'), else None: a
    state's code, or a marker's number in its layer (marker_place)."""
    if not isinstance(tooltip, str):
        return None
    match = CLICK_KEY.search(tooltip.strip())
    return (match.group(1), match.group(2)) if match else None


markdown_text = formatting.markdown_text


@dataclass(frozen=True)
class Card:
    """What the page shows beside the map for one clicked place."""

    title: str
    detail: str
    figures: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]
    outcomes_params: dict
    profile_params: dict | None


def marker_place(places_frame: pd.DataFrame, layer: str, number: str) -> pd.DataFrame:
    """The place (one row, or none) that the map's marker `number` of `layer` stands for: its row in layer_rows."""
    drawn = _located(places_frame[places_frame["layer"] == layer])
    index = int(number) if number.isdigit() else -1
    return drawn.iloc[index : index + 1] if 0 <= index < len(drawn) else drawn.iloc[0:0]


def card(places_frame: pd.DataFrame, totals: pd.DataFrame, key: tuple[str, str], year: str,
         threshold: int = 10) -> Card | None:  # fmt: skip
    """The card of the clicked place, from the frames the map was drawn from (None when it is not there)."""
    layer, place_id = key
    if layer == "state":
        row = totals[totals["state"] == place_id]
        if row.empty:
            if place_id not in geo.STATES:
                return None
            return Card(geo.state_name(place_id), f"No schools in view in {year}", (), (), {"year": year}, None)
        r = row.iloc[0]
        figures = (
            ("Students served", _count_text(r["students_served"], r["students_served_status"], threshold)),
            ("Schools and sites", f"{int(r['schools']):,}"),
        )
        return Card(str(r["state_name"]), f"All schools in the state, {year}", figures, (),
                    {"state": place_id, "year": year}, None)  # fmt: skip
    row = marker_place(places_frame, layer, place_id)
    if row.empty:
        return None
    r = row.iloc[0]
    labels = [label for label, _ in FIGURES[layer]]
    figures = tuple(zip(labels, _figure_texts(row.iloc[:1], layer, threshold)[0], strict=True))
    notes = []
    if r["placed_at_school"]:
        notes.append(f"Shown at {r['placed_at_school']}, the school it serves.")
    if r["approximate_location"]:
        notes.append(APPROXIMATE_NOTE)
    affiliate = "" if pd.isna(r["affiliate_id"]) else str(r["affiliate_id"])
    return Card(
        str(r["name"]),
        str(r["detail"]),
        figures,
        tuple(notes),
        {"state": str(r["state"]), "affiliate": affiliate, "year": year},
        {"affiliate": affiliate, "year": year},
    )


def export_frame(places_frame: pd.DataFrame) -> pd.DataFrame:
    """The places on the map as a download: one row per marker, a suppressed count as its label ('<10', 'hidden')."""
    return privacy.with_labels(places_frame.drop(columns=["detail"])).rename(columns={"layer": "layer_kind"})


def state_export(totals: pd.DataFrame) -> pd.DataFrame:
    """The state totals as a download: a suppressed count as its label ('<10', 'hidden')."""
    return privacy.with_labels(totals)


def benchmark_filters(view: queries.Filters, scope: queries.Scope, year: str) -> queries.Filters:
    """The filters the state choropleth is computed with.

    Everyone sees every school in the state totals. A user with every school in scope gets all their filters
    applied; an affiliate lead only the states and the year, because level, locale or Title I could otherwise
    narrow a state to one school of another affiliate and show its figures.
    """
    if scope.affiliates is None:
        return view.with_years(year)
    return queries.Filters(school_years=(year,), states=view.states)
