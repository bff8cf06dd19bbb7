"""The network page (``network_page()``): a small CNN convcore trained, layer by layer.

Data flows as on the explorer: settings (URL, widgets; :mod:`app.network.settings`) → model
(:mod:`app.network.model`: the shipped weights or a network trained here from a seed, one
digit's activations) → scene (:mod:`app.network.scene`) → view (the ``convcore_network``
component, ``app/static/view/network.js``), which runs the forward pass itself so that a
drawn digit updates every map within a frame.  The view reports a drawing when the user
stops; the page's text (convcore's own prediction) and the URL follow it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from urllib.parse import urlencode

import streamlit as st

import convcore as cc
from app.network import figures, model, net
from app.network import settings as netsettings
from app.network.data import decode_drawing, digits
from app.network.scene import build_scene
from app.network.settings import NetworkSettings
from app.shared import url as explorer_url
from app.shared import view
from app.shared.controls import Notices, int_input
from app.shared.frame import page_intro, show_notices
from app.shared.navigation import sync_query_params
from app.shared.settings import defaults

COMPONENT = "convcore_network"
MODULES = ("format.js", "contrast.js", "a11y.js", "component.js", "grid.js", "network.js")
SETTINGS_KEY = "net.settings"
WEIGHTS = {"shipped": "shipped (trained from seed 0)", "seed": "train here from a seed"}
PRESENTER_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 3.2rem; padding-bottom: 0.5rem; }
[data-testid="stMainBlockContainer"] h1 { padding-top: 0; padding-bottom: 0; }
[data-testid="stMetricValue"] { font-size: 1.6rem; }
</style>"""


def k(name: str) -> str:
    """The session-state key of one of this page's widgets."""
    return f"net.{name}"


# ------------------------------------------------------------------------------ settings

def widget_values(s: NetworkSettings) -> dict:
    return {k("weights"): "shipped" if s.seed is None else "seed",
            k("seed"): 0 if s.seed is None else s.seed, k("image"): s.image,
            k("presenter"): s.presenter}


def page_settings() -> tuple[NetworkSettings, list[str]]:
    """Kept from earlier in the session, else from the URL, else the defaults."""
    problems: list[str] = []
    if SETTINGS_KEY not in st.session_state:
        s, problems = netsettings.from_query(st.query_params)
        st.session_state[SETTINGS_KEY] = s
        for key, value in widget_values(s).items():
            st.session_state[key] = value
    s = st.session_state[SETTINGS_KEY]
    for key, value in widget_values(s).items():
        st.session_state.setdefault(key, value)
    return s, problems


def sidebar_controls(s: NetworkSettings, notices: Notices) -> NetworkSettings:
    st.subheader("Network")
    if st.session_state.get(k("weights")) not in WEIGHTS:
        st.session_state[k("weights")] = "shipped"
    weights = st.radio("Weights", list(WEIGHTS), format_func=WEIGHTS.get, key=k("weights"))
    seed = None
    if weights == "seed":
        seed = int_input("Training seed", k("seed"), 0, model.MAX_SEED, notices,
                         help="the seed draws the initial weights and the batch order; "
                              "training takes about 2 s and is then kept on this server")
    n = digits().test_size
    image = int_input("Test image", k("image"), 0, n - 1, notices,
                      f"the test split has {n} images", help="index in the held-out split")
    presenter = st.toggle("Presenter mode", key=k("presenter"),
                          help="larger type and a layout that fits a 1280×720 projector")
    draw = "" if image != s.image else s.draw  # picking a test image leaves the drawing
    return replace(s, seed=seed, image=image, draw=draw, presenter=presenter)


# ------------------------------------------------------------------------------ training

def network_for(s: NetworkSettings) -> net.Trained:
    """The weights the settings name; a seed not trained yet is trained now, live: a
    progress bar and the loss and accuracy curves, epoch by epoch."""
    if s.seed is None:
        return model.shipped()
    if model.is_trained(s.seed):
        return model.trained(s.seed)
    epochs = net.CONFIG.epochs
    holder = st.empty()
    with holder.container(border=True):
        st.markdown(f"**Training from seed {s.seed}** — {net.PARAMETERS:,} parameters, "
                    f"{epochs} epochs of Adam; every convolution, forward and backward, by "
                    "convcore")
        bar = st.progress(0.0, text="epoch 0")
        chart = st.empty()

    def on_epoch(epoch: int, t: net.Trained) -> None:
        acc = 100 * t.history["test_accuracy"][-1]
        bar.progress((epoch + 1) / epochs, text=f"epoch {epoch + 1} of {epochs}: test accuracy "
                     f"{acc:.1f} %, {t.seconds:.1f} s of training so far")
        chart.plotly_chart(figures.curves_figure(t.history, epochs, s.presenter),
                           config={"displaylogo": False, "staticPlot": True})

    trained = model.trained(s.seed, on_epoch)
    holder.empty()
    return trained


# ------------------------------------------------------------------------------ the view

def explorer_links(s: NetworkSettings) -> dict[str, str]:
    """Per convolution, the explorer's relative URL showing that layer of this network on
    this test image (the view adds the output map, or the drawing instead of the image)."""
    links = {}
    for layer, (name, _, _) in model.LAYERS.items():
        c_out = model.layer_maps(layer)[1]
        e = replace(defaults(2), source="network", kernel="network", layer=layer,
                    image=s.image, net=s.seed, outmaps=c_out, pad=((1, 1), (1, 1)))
        links[name] = "explorer_2d?" + urlencode(explorer_url.to_query(e))
    return links


def scene_id(s: NetworkSettings) -> str:
    return hashlib.sha1(repr((s.seed, s.image)).encode()).hexdigest()[:16]


@st.cache_resource(max_entries=16, show_spinner=False)
def _scene_text(sid: str, seed: int | None, image: int, links_json: str) -> str:
    raw, label = model.digit(image)
    scene = build_scene(model.weights(seed), raw, label, image, json.loads(links_json))
    return json.dumps(scene, separators=(",", ":"))


def show_view(s: NetworkSettings) -> NetworkSettings:
    """Draw the browser view and take its report (a drawing, or "" for the test image)."""
    sid = scene_id(s)
    anchor = st.session_state.get(k("anchor"))
    if anchor is None or anchor["scene_id"] != sid:
        anchor = {"scene_id": sid, "init": {"draw": s.draw}}
        st.session_state[k("anchor")] = anchor
    text = _scene_text(sid, s.seed, s.image, json.dumps(explorer_links(s)))
    data = view.payload(text, sid, anchor["init"], s.presenter)
    result = view.component(COMPONENT, MODULES, "mountNetwork", plotly=False)(
        key=k("view"), data=data, default={"view": None}, on_view_change=_ignore)
    report = getattr(result, "view", None)
    if (isinstance(report, dict) and report.get("scene") == sid
            and report.get("seq") != st.session_state.get(k("consumed"))):
        st.session_state[k("consumed")] = report.get("seq")
        code = report.get("draw")
        if code == "":
            s = replace(s, draw="")
        elif isinstance(code, str):
            try:
                decode_drawing(code)
                s = replace(s, draw=code)
            except ValueError:
                pass  # not from our view: keep what was shown
    return s


def _ignore() -> None:
    """State changes need a callback to be declared; the page reads the values itself."""


# ------------------------------------------------------------------------------ panels

def metrics(trained: net.Trained, s: NetworkSettings) -> None:
    d = digits()
    correct = round(trained.test_accuracy * d.test_size)
    c1, c2 = st.columns([1, 3], vertical_alignment="center")
    c1.metric("Test accuracy", f"{100 * trained.test_accuracy:.2f} %",
              help=f"{correct} of the {d.test_size} held-out test images classified right")
    c2.markdown(f"{correct} of {d.test_size} held-out test images right · "
                f"{net.PARAMETERS:,} parameters · {model.weights_name(s.seed)}: "
                f"{trained.config.epochs} epochs of Adam, {trained.seconds:.1f} s of training "
                f"({trained.backend})")


def prediction_text(s: NetworkSettings) -> None:
    """convcore's own forward pass on the digit the view shows (the browser computes the
    same; the tests compare them)."""
    raw, label = model.digit(s.image, s.draw)
    probs = model.activations(s.seed, raw)["probs"][0]
    best = int(probs.argmax())
    what = "the drawn digit" if label is None else f"test image {s.image} (label {label})"
    verdict = "" if label is None else (" — right" if best == label else " — wrong")
    st.markdown(f"convcore's forward pass on {what}: predicts **{best}** "
                f"({100 * float(probs[best]):.1f} %){verdict}")


def training_panel(trained: net.Trained, presenter: bool) -> None:
    st.markdown("**Training curves** (per epoch, on the held-out test split)")
    st.plotly_chart(figures.curves_figure(trained.history, trained.config.epochs, presenter),
                    key=k("curves"), config={"displaylogo": False})


def confusion_panel(s: NetworkSettings) -> None:
    st.markdown("**Confusion matrix** (test split: rows true, columns predicted)")
    st.plotly_chart(figures.confusion_figure(model.confusion(s.seed), s.presenter),
                    key=k("confusion"), config={"displaylogo": False}, width="content")


def how_panel() -> None:
    st.markdown(
        "- **Data**: scikit-learn's bundled handwritten digits (1,797 images of 8×8, values "
        "0–16), upsampled bilinearly to 16×16; a stratified 80/20 split (1,437 training, "
        "360 test images).\n"
        "- **Network**: conv 1→8 (3×3, padding 1) → ReLU → 2×2 max-pool → conv 8→16 → ReLU → "
        "max-pool → linear 256→10 → softmax.\n"
        "- **Training**: every convolution — forward (`cc.conv2d`) and backward "
        "(`cc.conv_grad_input`, `cc.conv_grad_weight`) — by convcore; ReLU, max-pool, the "
        "linear layer, the cross-entropy and Adam in a few lines of NumPy each "
        "(`app/network/net.py`). One epoch equals PyTorch's training of the same net from the "
        "same weights and batches (the tests check it).\n"
        "- **In the browser** the view runs the same forward pass on what you draw; a click "
        "on a map of conv1 or conv2 opens that layer in the 2-D explorer with its real input "
        "activations, learned kernels and bias: its output there is this map before ReLU.\n"
        "- **Retrain** with `python -m app.network.train` (writes `assets/network.npz`).")


# ------------------------------------------------------------------------------ the page

def network_page() -> None:
    started = time.perf_counter()
    s, problems = page_settings()
    st.title("A network convcore trained")
    page_intro("A small CNN trained on handwritten digits by this app's own convolution "
               "core — forward and backward. Draw a digit and watch every layer; click a "
               "convolution's map to open that layer in the explorer.", problems,
               PRESENTER_CSS if s.presenter else None)
    notices = Notices()
    with st.sidebar:
        s = sidebar_controls(s, notices)
    show_notices(notices)
    trained = network_for(s)
    metrics(trained, s)
    s = show_view(s)
    prediction_text(s)
    if s.presenter:
        with st.expander("Training curves and confusion matrix"):
            training_panel(trained, True)
            confusion_panel(s)
    else:
        left, right = st.columns([3, 2])
        with left:
            training_panel(trained, False)
        with right:
            confusion_panel(s)
        with st.expander("How it is computed"):
            how_panel()
    finish(s, started)


def finish(s: NetworkSettings, started: float) -> None:
    st.session_state[SETTINGS_KEY] = s
    sync_query_params(netsettings.to_query(s))
    with st.sidebar:
        st.divider()
        st.caption(f"Backend: **{cc.backend_name()}** · this rerun: "
                   f"{(time.perf_counter() - started) * 1e3:.0f} ms")
