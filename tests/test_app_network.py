"""The network page and the explorer's ``network`` source through Streamlit's AppTest: the page
renders with no exception and states the shipped weights' test accuracy (recomputed here), its
view gets the network's weights and digit, a drawing reported by the view moves convcore's own
prediction and the URL, a seed trains live, hostile URL values are announced, and the explorer
opened from a feature map's link shows exactly the network's stored activation before ReLU."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import view_payload as vp  # noqa: E402
from view_payload import ok, query  # noqa: E402

from app.network import model, net  # noqa: E402
from app.network.data import digits, encode_drawing  # noqa: E402
from app.shared.scene import read_typed_array  # noqa: E402

TIMEOUT = 120
COMPONENT = "convcore_network"
NETWORK_PAGE = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from app.network.page import network_page
network_page()
"""
EXPLORER_PAGE = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from app.explorer.page import explorer_page
explorer_page(NDIM)
"""


def network_page(params: dict | None = None) -> AppTest:
    at = AppTest.from_string(NETWORK_PAGE, default_timeout=TIMEOUT)
    at.query_params.update(params or {})
    return ok(at.run())


def explorer(params: dict, ndim: int = 2) -> AppTest:
    at = AppTest.from_string(EXPLORER_PAGE.replace("NDIM", str(ndim)), default_timeout=TIMEOUT)
    at.query_params.update(params)
    return ok(at.run())


def scene(at: AppTest) -> dict:
    return vp.payload(at, COMPONENT)["scene"]


def forward_pass_text(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("convcore's forward pass"))


def link_query(link: str, omap: int, draw: str = "") -> dict:
    """The query the view's link for output map ``omap`` carries (network.js: setLinks)."""
    q = dict(parse_qsl(urlsplit(link).query))
    q["omap"] = str(omap)
    if draw:
        q.pop("image", None)
        q["draw"] = draw
    return q


# ------------------------------------------------------------------------------ the page

def test_network_page_states_the_test_accuracy_and_sends_the_network_to_its_view():
    at = network_page({"image": "17"})
    d = digits()
    shipped = model.shipped()
    acc = net.accuracy(shipped.params, d.x_test, d.y_test)
    assert [(m.label, m.value) for m in at.metric] == [("Test accuracy", f"{100 * acc:.2f} %")]
    assert acc >= 0.97
    sc = scene(at)
    for name, p in shipped.params.items():
        assert_array_equal(np.asarray(sc["params"][name]["data"], dtype=np.float32),
                           p.ravel())
    assert sc["digit"] == {"raw": d.raw_test[17].ravel().tolist(), "label": int(d.y_test[17]),
                           "image": 17}
    probs = model.activations(None, d.raw_test[17])["probs"][0]
    assert f"predicts **{int(probs.argmax())}**" in forward_pass_text(at)
    # curves (history of the shipped training) and the confusion matrix (recomputed)
    charts = at.get("plotly_chart")
    assert len(charts) == 2
    figs = [json.loads(c.proto.spec) for c in charts]
    acc_trace = next(t for t in figs[0]["data"] if t["name"] == "test accuracy")
    assert abs(acc_trace["y"][-1] - 100 * acc) < 1e-9
    assert read_typed_array(figs[1]["data"][0]["z"]).tolist() == model.confusion(None).tolist()
    assert query(at) == {"image": "17"}


def test_a_drawing_reported_by_the_view_moves_convcores_prediction_and_the_url():
    at = network_page()
    d = digits()
    raw = d.raw_test[d.y_test == 4][0]  # a 4 from the test split, as if drawn
    code = encode_drawing(raw)
    p = vp.payload(at, COMPONENT)
    at.session_state["net.view"] = {"view": {"scene": p["scene_id"], "seq": 1, "draw": code}}
    ok(at.run())
    probs = model.activations(None, raw)["probs"][0]
    text = forward_pass_text(at)
    assert "the drawn digit" in text and f"predicts **{int(probs.argmax())}**" in text
    assert query(at) == {"draw": code}
    assert vp.payload(at, COMPONENT)["init"] == {"draw": ""}  # the anchor stays: no resend
    # a report that is not a drawing is ignored; "" goes back to the test image
    at.session_state["net.view"] = {"view": {"scene": p["scene_id"], "seq": 2, "draw": "x"}}
    ok(at.run())
    assert query(at) == {"draw": code}
    at.session_state["net.view"] = {"view": {"scene": p["scene_id"], "seq": 3, "draw": ""}}
    ok(at.run())
    assert query(at) == {} and "test image 0" in forward_pass_text(at)
    # a link with the drawing opens on it
    at = network_page({"draw": code})
    assert vp.payload(at, COMPONENT)["init"] == {"draw": code}
    assert "the drawn digit" in forward_pass_text(at)


def test_hostile_url_values_are_announced_and_replaced():
    at = network_page({"image": "-1", "seed": "1e999", "draw": "zz", "presenter": "1"})
    warnings = " | ".join(w.value for w in at.warning)
    assert "ignored seed='1e999'" in warnings and "ignored draw='zz'" in warnings
    notices = " | ".join(c.value for c in at.caption)
    assert "Test image: asked -1, using 0 — must be at least 0" in notices
    assert query(at) == {"presenter": "1"}
    at = network_page({"image": "99999"})
    notices = " | ".join(c.value for c in at.caption)
    assert "Test image: asked 99999, using 359 — must be at most 359" in notices
    assert vp.payload(at, COMPONENT)["scene"]["digit"]["image"] == 359


def test_a_seed_trains_live_and_its_links_open_that_network_in_the_explorer():
    seed = 1
    at = network_page({"seed": str(seed), "image": "5"})
    trained = model.trained(seed)
    assert at.metric[0].value == f"{100 * trained.test_accuracy:.2f} %"
    assert f"trained here from seed {seed}" in " ".join(m.value for m in at.markdown)
    assert_array_equal(np.asarray(scene(at)["params"]["conv2.w"]["data"], dtype=np.float32),
                       trained.params["conv2.w"].ravel())
    q = link_query(scene(at)["links"]["conv2"], 3)
    assert q["net"] == str(seed) and q["image"] == "5"
    ex = explorer(q)
    z2 = model.activations(seed, digits().raw_test[5])["z2"][0, 3]
    assert_array_equal(vp.array(ex, "output"), z2)


# ------------------------------------------------------------------------------ the explorer

@pytest.mark.parametrize("layer, omap", [(1, 0), (1, 6), (2, 0), (2, 13)])
def test_explorer_opened_from_a_feature_map_shows_exactly_the_networks_activation(layer, omap):
    at = network_page({"image": "17"})
    name, reads, writes = model.LAYERS[layer]
    ex = explorer(link_query(scene(at)["links"][name], omap))
    acts = model.activations(None, digits().raw_test[17])
    assert_array_equal(vp.array(ex, "output"), acts[writes][0, omap])  # core == stored
    inputs = vp.array(ex, "inputs")  # padded by 1: the layer's real input inside
    assert_array_equal(inputs[:, 1:-1, 1:-1], acts[reads][0, :inputs.shape[0]])
    w, b = model.layer_params(None, layer)
    assert_array_equal(vp.array(ex, "weights"), w[omap])
    assert_array_equal(vp.array(ex, "bias"), [b[omap]])
    notes = " | ".join(c.value for c in ex.caption)
    assert f"Layer {layer} of the network" in notes and f"({writes})" in notes
    assert ex.number_input(key="e2.outmaps").value == w.shape[0]
    assert ex.number_input(key="e2.outmaps").disabled


def test_explorer_from_a_drawn_digit_and_hostile_values():
    raw = digits().raw_test[3]
    code = encode_drawing(raw)
    at = network_page()
    ex = explorer(link_query(scene(at)["links"]["conv2"], 2, draw=code))
    assert_array_equal(vp.array(ex, "output"), model.activations(None, raw)["z2"][0, 2])
    assert "the drawn digit" in " ".join(c.value for c in ex.caption)
    ex = explorer({"src": "network", "kernel": "network", "layer": "99", "image": "-1",
                   "pad": "1", "draw": "nope", "outmaps": "3", "groups": "2"})
    notices = " | ".join(c.value for c in ex.caption)
    assert "Layer: asked 99, using 2 — must be at most 2" in notices
    assert "Test image: asked -1, using 0 — must be at least 0" in notices
    assert "Output maps C_out: asked 3, using 16 — set by the network's layer 2" in notices
    assert "Groups: asked 2, using 1 — set by the network's layer 2" in notices
    assert "ignored draw='nope'" in " | ".join(w.value for w in ex.warning)
    assert_array_equal(vp.array(ex, "output"),
                       model.activations(None, digits().raw_test[0])["z2"][0, 0])
    # learned kernels on another input: the channel count must fit, said inline
    ex = explorer({"kernel": "network", "layer": "2", "src": "sample"})
    assert any("channels" in e.value for e in ex.error), [e.value for e in ex.error]
    # the 1-D explorer has no network
    ex = explorer({"src": "network"}, ndim=1)
    assert "ignored src=network" in " | ".join(w.value for w in ex.warning)
