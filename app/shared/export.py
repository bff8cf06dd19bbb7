"""What the Export tab hands out: arrays (CSV, ``.npy``) and the explorer as one offline HTML file
(the same view as the page, with its scene inside).  Pure functions of the scene and the model's
arrays; no Streamlit.  Moving pictures (GIF, video) are recorded in the browser by the view
itself (``app/static/view/record.js``): one renderer for what moves."""

from __future__ import annotations

import io

import numpy as np

from app.shared import view


def csv_text(a: np.ndarray) -> str:
    """A map as CSV: rows of the last axis; a 3-D map as its depth slices, a blank line
    between them (the form the 3-D page's CSV upload reads back)."""
    a = np.atleast_2d(a)
    slices = a.reshape(-1, *a.shape[-2:])
    parts = []
    for sl in slices:
        buf = io.StringIO()
        np.savetxt(buf, sl, delimiter=",", fmt="%.9g")
        parts.append(buf.getvalue())
    return "\n".join(parts)


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def _inline(text: str) -> str:
    """Text safe inside a <script> or <style> element."""
    return text.replace("</", "<\\/")


def html_bytes(payload_text: str, title: str, ndim: int = 2) -> bytes:
    """The explorer as one HTML file: plotly.js, the view's code and the scene inside, so it
    steps, hovers and plays offline exactly as the page does (the copy-link button copies the
    file's own address)."""
    plotly_js = view.plotly_file().read_text(encoding="utf-8")
    modules, entry = view.explorer_bundle(ndim)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 1.5rem; }}
{_inline(view.css())}</style>
<script>{_inline(plotly_js)}</script>
</head><body>
<h2>{title}</h2>
<div id="explorer"></div>
<script type="module">
{_inline(view.bundle(modules))}
{entry}({{data: {_inline(payload_text)}, parentElement: document.getElementById("explorer"),
        setStateValue: null}});
</script>
</body></html>
"""
    return page.encode("utf-8")
