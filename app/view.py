"""The explorer's browser view: a Streamlit ``st.components.v2`` component around
``app/static/view/`` (plain ES modules, no build step) and plotly.js.

The JavaScript travels inline with the component (:func:`bundle` joins the modules into
one), so it is never stale in a browser cache.  plotly.js is the one from the installed
``plotly`` package: :func:`ensure_plotly` copies it into ``app/static/vendor/`` (git-ignored)
under a name carrying its version, where Streamlit's static file serving hands it out gzipped
with an ETag — never from a CDN, since a classroom may be offline.

The component gets the scene (see :mod:`app.scene`) and an *anchor* (step, speed, reveal at
the time the scene was made); it reports ``view`` back, debounced, when the user stops:
``{"scene": scene_id, "seq": n, "step", "speed", "reveal"}`` (the scene id and a sequence
number tell a fresh report from one left over from an earlier scene).  A rerun with the same
scene and anchor sends nothing new to the browser.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import plotly
import streamlit as st

from app.state_guard import new_refusal

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
VIEW = STATIC / "view"
MODULES = ("component.js", "format.js", "geometry.js", "grid.js", "explorer.js")  # in order
COMPONENT = "convcore_explorer"
TRANSPOSED_MODULES = (*MODULES, "transposed.js")
TRANSPOSED = "convcore_transposed"

_IMPORT = re.compile(r"^import\s[^;]*?from\s+\"\./[\w.]+\";\n", re.MULTILINE | re.DOTALL)


def plotly_file() -> Path:
    """plotly.js as shipped inside the installed ``plotly`` Python package."""
    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def plotly_name() -> str:
    """The served file name: versioned, so that a browser cache never holds a stale copy."""
    with open(plotly_file(), encoding="utf-8") as f:
        head = f.read(200)
    version = re.search(r"plotly\.js v([\w.\-]+)", head)
    return f"plotly-{version.group(1) if version else 'unknown'}.min.js"


def ensure_plotly(static: Path = STATIC) -> Path:
    """Copy plotly.js into ``static/vendor/`` once (Streamlit serves only real files there)."""
    target = static / "vendor" / plotly_name()
    source = plotly_file()
    if target.exists() and target.stat().st_size == source.stat().st_size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)  # atomic: concurrent replicas never serve half a file
    return target


def bundle(modules: tuple[str, ...] = MODULES) -> str:
    """Modules of ``app/static/view`` (in dependency order) as one ES module: relative imports
    dropped, exports kept.  The last one exports ``mount``."""
    parts = []
    for name in modules:
        text = (VIEW / name).read_text(encoding="utf-8")
        parts.append(f"// ---- {name}\n" + _IMPORT.sub("", text))
    return "\n".join(parts)


def css() -> str:
    return (VIEW / "explorer.css").read_text(encoding="utf-8")


def _loader(modules: tuple[str, ...], entry: str = "mount", plotly: bool = True) -> str:
    """A component's module: the bundled view plus a default export that loads plotly.js
    (unless the view paints without it) and the stylesheet from the app's static files, then
    mounts."""
    return bundle(modules) + """
// ---- loader
const STATIC_BASE = new URL("app/static/", document.baseURI);
function loadOnce(key, make) {
  window.__cxLoads = window.__cxLoads || {};
  if (!window.__cxLoads[key]) window.__cxLoads[key] = make();
  return window.__cxLoads[key];
}
function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  return loadOnce("plotly", () => new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = new URL("vendor/PLOTLY_NAME", STATIC_BASE).href;
    s.onload = () => resolve(window.Plotly);
    s.onerror = () => reject(new Error("could not load plotly.js from the app's static files"));
    document.head.appendChild(s);
  }));
}
function loadStyle() {
  return loadOnce("css", () => {
    const style = document.createElement("style");
    style.textContent = CSS_TEXT;
    document.head.appendChild(style);
    return true;
  });
}
export default async function (component) {
  performance.mark("cx-start");
  loadStyle();
  if (NEEDS_PLOTLY) await loadPlotly();
  performance.mark("cx-plotly");
  ENTRY(component);
  performance.mark("cx-drawn");
}
""".replace("PLOTLY_NAME", plotly_name()).replace("CSS_TEXT", json.dumps(css())).replace(
        "ENTRY", entry).replace("NEEDS_PLOTLY", json.dumps(plotly))


_components: dict = {}


def component(name: str, modules: tuple[str, ...], entry: str = "mount", plotly: bool = True):
    """The ``st.components.v2`` component ``name`` made of ``modules`` whose function
    ``entry`` draws it (registered once); ``plotly`` False: the view does not use plotly.js,
    which is then not loaded."""
    if name not in _components:
        ensure_plotly()
        _components[name] = _noticing_refusals(st.components.v2.component(
            name, js=_loader(modules, entry, plotly), isolate_styles=False))
    return _components[name]


def _noticing_refusals(mount):
    """``mount`` that shows a notice, once, when the state the browser sent was refused
    (:mod:`app.state_guard` replaced it by ``{"_refused": why, "n": number}``; the page goes on
    without it)."""
    def draw(**kwargs):
        result = mount(**kwargs)
        why = new_refusal(kwargs.get("key", ""), result)
        if why:
            st.warning(f"The view sent a state the server cannot read ({why}); it was "
                       "ignored. Step or click in the view to send a fresh one.",
                       icon=":material/report:")
        return result
    return draw


def payload(scene_text: str, scene_id: str, init: dict, presenter: bool) -> str:
    """The component's data: a JSON text around the (cached, already serialized) scene."""
    head = json.dumps({"scene_id": scene_id, "init": init, "presenter": bool(presenter)})
    return head[:-1] + ', "scene": ' + scene_text + "}"


def explorer(scene_text: str, scene_id: str, init: dict, presenter: bool, key: str
             ) -> dict | None:
    """Draw the explorer view; returns the browser's last report (None before the first)."""
    result = component(COMPONENT, MODULES)(
        key=key, data=payload(scene_text, scene_id, init, presenter), default={"view": None},
        on_view_change=_ignore)
    report = getattr(result, "view", None)
    return dict(report) if isinstance(report, dict) else None


def transposed(scene_text: str, scene_id: str, init: dict, presenter: bool, key: str
               ) -> dict | None:
    """Draw the transposed convolution's view (scatter / gather); returns its last report,
    which also names the view mode."""
    result = component(TRANSPOSED, TRANSPOSED_MODULES, "mountTransposed")(
        key=key, data=payload(scene_text, scene_id, init, presenter), default={"view": None},
        on_view_change=_ignore)
    report = getattr(result, "view", None)
    return dict(report) if isinstance(report, dict) else None


def _ignore() -> None:
    """State changes need a callback to be declared; the page reads the values itself."""
