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

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import plotly
import streamlit as st

from app.shared import layer, url
from app.shared import scene as scenes
from app.shared.ranks import rank
from app.shared.settings import Settings
from app.state_guard import new_refusal

HERE = Path(__file__).resolve().parents[1]  # app/
STATIC = HERE / "static"
VIEW = STATIC / "view"
MODULES = ("format.js", "contrast.js", "a11y.js", "component.js", "live.js", "geometry.js",
           "grid.js", "controls.js", "layout.js", "ranks.js", "gif.js", "record.js",
           "explorer.js")  # in dependency order
COMPONENT = "convcore_explorer"
TRANSPOSED_MODULES = (*MODULES, "transposed.js")
TRANSPOSED = "convcore_transposed"
VOLUME_MODULES = (*MODULES, "volume.js")  # the 3-D view (layout "slices")
VOLUME = "convcore_volume"
# the 3-D transposed view: the 3-D view, with the 2-D transposed view's arithmetic borrowed
TRANSPOSED_VOLUME_MODULES = (*VOLUME_MODULES[:-1], "transposed.js", "volume.js",
                             "volume_transposed.js")
TRANSPOSED_VOLUME = "convcore_transposed_volume"

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


STYLES = ("explorer.css", "live.css")


def css() -> str:
    return "\n".join((VIEW / name).read_text(encoding="utf-8") for name in STYLES)


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
    // the page asked for it already (app/preload.py): wait for that one
    const early = document.querySelector("script[data-cx-plotly]");
    const s = early && !early.dataset.failed ? early : document.createElement("script");
    s.addEventListener("load", () => resolve(window.Plotly));
    s.addEventListener("error", () => reject(
      new Error("could not load plotly.js from the app's static files")));
    if (s !== early) {
      s.src = new URL("vendor/PLOTLY_NAME", STATIC_BASE).href;
      document.head.appendChild(s);
    }
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




def payload(scene_text: str | None, scene_id: str, init: dict, presenter: bool,
            extra: dict | None = None) -> str:
    """The component's data: a JSON text around the (cached, already serialized) scene.

    ``scene_text`` None sends no scene: the view holds that scene already (it fetched it from
    the scene API), or fetches it by ``extra["query"]``.  ``extra``: what the view's controls
    need (:func:`view_state`), and the scene API's notices."""
    head = json.dumps({"scene_id": scene_id, "init": init, "presenter": bool(presenter),
                       **(extra or {})}, separators=(",", ":"))
    return head[:-1] + ',"scene":' + ("null" if scene_text is None else scene_text) + "}"


# ------------------------------------------------------------------------------ the scene

def scene_id(s: Settings, upload=None, transposed: bool = False) -> str:
    """Names one scene: the configuration, the upload and the shown item and map."""
    key = repr((s.conv_key(), None if upload is None else upload.digest, s.item, s.omap))
    return hashlib.sha1(key.encode()).hexdigest()[:16] + ("t" if transposed else "")


@st.cache_resource(max_entries=64, show_spinner=False)
def scene_text(sid: str, _comp, item: int, omap: int, transposed: bool = False) -> str:
    """The scene of ``sid`` as JSON text (serialized once, shared by the page and the API)."""
    build = scenes.build_transposed_scene if transposed else scenes.build_scene
    return json.dumps(build(_comp, item, omap), separators=(",", ":"))


# what the view changes by itself and reports (never part of a layer's query)
VIEW_ONLY = ("step", "speed", "reveal", "predict", "presenter", "tview")


def init_of(s: Settings, transposed: bool = False) -> dict:
    """Where the view starts on a new scene: step, speed, reveal, and predict (explorer) or
    the scatter / gather mode (transposed)."""
    init = {"step": s.step, "speed": s.speed, "reveal": s.reveal}
    if transposed:
        init["mode"] = s.tview
    else:
        init["predict"] = s.predict
    return init


def page_name(ndim: int, transposed: bool) -> str:
    """The page as the scene API names it (its URL path)."""
    return "transposed" if transposed else rank(ndim).address


def view_state(s: Settings, transposed: bool = False) -> dict:
    """What the view's controls need: the scene API's page name, the layer's URL query (view
    fields left out), every control's value and its limits (:mod:`app.layer`)."""
    query = {key: v for key, v in url.page_query(s, "t" if transposed else "e").items()
             if key not in VIEW_ONLY}
    quiet = layer.Notices()
    clamp = layer.clamp_transposed_layer if transposed else layer.clamp_layer
    limits = {**layer.clamp_input(s, quiet, transposed)[1], **clamp(s, quiet)[1],
              **layer.clamp_view(s, quiet)[1]}
    values = {
        "ndim": s.ndim, "axes": list(rank(s.ndim).axes), "source": s.source,
        "data": s.data_source, "kernel": s.kernel,
        "batch": s.batch, "inmaps": s.inmaps, "outmaps": s.outmaps, "groups": s.groups,
        "shape": list(s.shape), "size": list(s.size), "stride": list(s.stride),
        "dilation": list(s.dilation), "pad_form": s.pad_form,
        "pad": [list(p) for p in s.pad], "mode": s.mode, "opad": list(s.output_padding),
        "bias": None if s.bias is None else ",".join(f"{float(b):g}" for b in s.bias),
        "item": s.item, "omap": s.omap,
        "network": s.layer if s.kernel == "network" else None,  # its layer fixes some controls
    }
    return {"page": page_name(s.ndim, transposed), "query": query, "layer": values,
            "limits": limits}


def explorer(scene_text: str | None, scene_id: str, init: dict, presenter: bool, key: str,
             extra: dict | None = None, on_change=None) -> dict | None:
    """Draw the explorer view; returns the browser's last report (None before the first).
    ``on_change`` runs before the page when a new report arrives."""
    return _draw(COMPONENT, MODULES, "mount", scene_text, scene_id, init, presenter, key, extra,
                 on_change)


def transposed(scene_text: str | None, scene_id: str, init: dict, presenter: bool, key: str,
               extra: dict | None = None, on_change=None) -> dict | None:
    """Draw the transposed convolution's view (scatter / gather); returns its last report,
    which also names the view mode."""
    return _draw(TRANSPOSED, TRANSPOSED_MODULES, "mountTransposed", scene_text, scene_id, init,
                 presenter, key, extra, on_change)


def volume(scene_text: str | None, scene_id: str, init: dict, presenter: bool, key: str,
           extra: dict | None = None, on_change=None) -> dict | None:
    """Draw the 3-D explorer's view: depth slices and a rotatable overview."""
    return _draw(VOLUME, VOLUME_MODULES, "mountVolume", scene_text, scene_id, init, presenter,
                 key, extra, on_change)


def transposed_volume(scene_text: str | None, scene_id: str, init: dict, presenter: bool,
                      key: str, extra: dict | None = None, on_change=None) -> dict | None:
    """Draw the 3-D transposed view: scatter and gather over depth slices, and the overview."""
    return _draw(TRANSPOSED_VOLUME, TRANSPOSED_VOLUME_MODULES, "mountTransposedVolume",
                 scene_text, scene_id, init, presenter, key, extra, on_change)


# the explorer's view of each layout of the rank table (app.shared.ranks): the function that
# draws it, its modules and the function of theirs that mounts it
EXPLORER_VIEWS = {"strip": (explorer, MODULES, "mount"), "grid": (explorer, MODULES, "mount"),
                  "slices": (volume, VOLUME_MODULES, "mountVolume")}


# the transposed page's view of each layout (for the ranks whose entry says ``transposed``)
TRANSPOSED_VIEWS = {"strip": transposed, "grid": transposed, "slices": transposed_volume}


def explorer_view(ndim: int):
    """The function that draws the explorer view of rank ``ndim``."""
    return EXPLORER_VIEWS[rank(ndim).layout][0]


def transposed_view(ndim: int):
    """The function that draws the transposed page's view of rank ``ndim``."""
    return TRANSPOSED_VIEWS[rank(ndim).layout]


def explorer_bundle(ndim: int) -> tuple[tuple[str, ...], str]:
    """The modules and mounting function of rank ``ndim``'s explorer view (HTML export)."""
    return EXPLORER_VIEWS[rank(ndim).layout][1:]


def _draw(name, modules, entry, scene_text, scene_id, init, presenter, key, extra, on_change):
    result = component(name, modules, entry)(
        key=key, data=payload(scene_text, scene_id, init, presenter, extra),
        default={"view": None}, on_view_change=on_change or _ignore)
    report = getattr(result, "view", None)
    return dict(report) if isinstance(report, dict) else None


def _ignore() -> None:
    """State changes need a callback to be declared; the page reads the values itself."""
