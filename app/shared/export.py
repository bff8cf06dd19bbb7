"""What the Export tab hands out: arrays (CSV, ``.npy``) and the explorer as one offline HTML file
(the same view as the page, with its scene inside).  Pure functions of the scene and the model's
arrays; no Streamlit.  Moving pictures (GIF, video) are recorded in the browser by the view
itself (``app/static/view/record.js``): one renderer for what moves."""

from __future__ import annotations

import io

import numpy as np

from app.shared import view


def csv_text(a: np.ndarray) -> str:
    buf = io.StringIO()
    np.savetxt(buf, np.atleast_2d(a), delimiter=",", fmt="%.9g")
    return buf.getvalue()


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def _inline(text: str) -> str:
    """Text safe inside a <script> or <style> element."""
    return text.replace("</", "<\\/")


def html_bytes(payload_text: str, title: str) -> bytes:
    """The explorer as one HTML file: plotly.js, the view's code and the scene inside, so it
    steps, hovers and plays offline exactly as the page does (the copy-link button copies the
    file's own address)."""
    plotly_js = view.plotly_file().read_text(encoding="utf-8")
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
{_inline(view.bundle())}
mount({{data: {_inline(payload_text)}, parentElement: document.getElementById("explorer"),
        setStateValue: null}});
</script>
</body></html>
"""
    return page.encode("utf-8")
