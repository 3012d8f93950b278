"""Plotly figures as PNG or SVG files, drawn by kaleido in a headless Chromium (Debian's, found through
BROWSER_PATH or the PATH; kaleido never downloads one), and dressed for export: a title, the place and year, and a
source line on the picture itself, so a chart pasted into a proposal still says what it is.

One Chromium is started per process on the first image (about 2 s) and kept for the next ones (about 0.2 s each).
It never fetches anything: plotly.js is the copy bundled with plotly, and MathJax is off.
"""

from __future__ import annotations

import asyncio
import copy
import os
import shutil
import threading
from collections.abc import Coroutine
from typing import Any

import plotly.graph_objects as go

from dashboard.formatting import plotly_text

# Seconds one image may take once the browser runs; the first also waits for the browser to start.
TIMEOUT_S = 60
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class ChartImageError(RuntimeError):
    """No image could be drawn: no browser on this machine, or it failed or timed out."""


def browser_path() -> str | None:
    """The Chromium kaleido will use: BROWSER_PATH when set, else the first on the PATH; None when there is none."""
    named = os.environ.get("BROWSER_PATH")
    if named:
        return named if os.path.exists(named) else None
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


class _Renderer:
    """One kaleido (one Chromium tab) on an event loop of its own thread; images are drawn one at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._kaleido: Any = None

    def _run(self, coroutine: Coroutine, timeout: float) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _start(self) -> None:
        from kaleido import Kaleido

        path = browser_path()
        if path is None:
            raise ChartImageError("chart images need Chromium: install it (Debian: chromium) or set BROWSER_PATH")
        os.environ.setdefault("BROWSER_PATH", path)
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="chart-images", daemon=True).start()
        kaleido = Kaleido(n=1, timeout=TIMEOUT_S, mathjax=False)

        async def opened() -> Any:
            return await kaleido.__aenter__()

        self._kaleido = self._run(opened(), TIMEOUT_S)

    def draw(self, fig: go.Figure, fmt: str, width: int, height: int, scale: float) -> bytes:
        with self._lock:
            try:
                if self._kaleido is None:
                    self._start()
                opts = {"format": fmt, "width": width, "height": height, "scale": scale}
                return self._run(self._kaleido.calc_fig(fig, opts=opts), TIMEOUT_S)
            except ChartImageError:
                raise
            except Exception as exc:  # the browser failed to start or to draw: start afresh next time
                self._kaleido = None
                raise ChartImageError(f"the chart image could not be drawn ({type(exc).__name__}: {exc})") from exc


_RENDERER = _Renderer()


def image(fig: go.Figure, fmt: str = "png", width: int = 1000, height: int = 520, scale: float = 2) -> bytes:
    """The figure as PNG (`scale` times `width` x `height` CSS pixels, for sharp print) or SVG bytes.
    ChartImageError when no image can be drawn."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"format must be png or svg, not {fmt!r}")
    return _RENDERER.draw(fig, fmt, width, height, scale)


def dressed(fig: go.Figure, title: str, subtitle: str, source: str) -> go.Figure:
    """A copy of the figure for export: `title` in bold with `subtitle` (place and year) under it, `source` in small
    type at the bottom left, white background, horizontal tick labels with room between them, and the legend below.
    The page's own figure is left as it is."""
    out = go.Figure(copy.deepcopy(fig.to_dict()))
    out.update_layout(
        title={"text": f"<b>{plotly_text(title)}</b><br><span style='font-size:13px'>{plotly_text(subtitle)}</span>",
               "x": 0.01, "xanchor": "left", "y": 0.97, "yanchor": "top", "font": {"size": 18}},
        template="plotly_white", font={"size": 13, "color": "#222"},
        margin={"t": 90, "b": 110, "l": 70, "r": 30},
        legend={"orientation": "h", "x": 0, "y": -0.18, "yanchor": "top"},
    )  # fmt: skip
    out.update_xaxes(tickangle=0, automargin=True)
    out.add_annotation(text=plotly_text(source), xref="paper", yref="paper", x=0, y=0, yshift=-95, showarrow=False,
                       xanchor="left", yanchor="bottom", align="left", font={"size": 11, "color": "#444"})  # fmt: skip
    return out
