"""The convolution arithmetic gallery (app/gallery.py, app/pages/gallery.py).

Each case's numbers are the guide's (Dumoulin & Visin, "A guide to convolution arithmetic for
deep learning": the literals in ``gallery.CASES``); the output sizes the app shows come from
convcore and must equal them and PyTorch's; each twin must invert its convolution; each link
must open a page (AppTest, with exactly the link's query) whose scene has that output shape;
the buttons must do what the links do, inside the session.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import view_payload as vp  # noqa: E402
from view_payload import ok  # noqa: E402

from app.gallery import cases as gallery  # noqa: E402
from app.shared import navigation, url  # noqa: E402

ENTRY = ROOT / "app" / "streamlit_app.py"
TIMEOUT = 120
PAGE = {"explorer_2d": "from app.explorer.page import explorer_page\nexplorer_page(2)",
        "transposed": "from app.transposed.page import transposed_page\ntransposed_page()"}
CASES = {c.slug: c for c in gallery.CASES}
# The guide's own numbers, each (i, k, s, p, d) -> o, and what its transposed twin gives back.
GUIDE = {
    "no_padding_no_strides": (4, 3, 1, 0, 1, 2),
    "arbitrary_padding_no_strides": (5, 4, 1, 2, 1, 6),
    "same_padding_no_strides": (5, 3, 1, 1, 1, 5),
    "full_padding_no_strides": (5, 3, 1, 2, 1, 7),
    "no_padding_strides": (5, 3, 2, 0, 1, 2),
    "padding_strides": (5, 3, 2, 1, 1, 3),
    "padding_strides_odd": (6, 3, 2, 1, 1, 3),
    "dilation": (7, 3, 1, 0, 2, 3),
}


def open_link(link: str) -> AppTest:
    """The page a link names, opened fresh with exactly the link's query."""
    parts = urlsplit(link)
    at = AppTest.from_string(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
                             + PAGE[parts.path], default_timeout=TIMEOUT)
    at.query_params.update(dict(parse_qsl(parts.query)))
    return ok(at.run())


# ------------------------------------------------------------------------------ the data

def test_the_gallery_holds_the_guides_cases_in_its_order():
    assert list(CASES) == list(GUIDE)
    for slug, (i, k, s, p, d, o) in GUIDE.items():
        c = CASES[slug]
        assert (c.i, c.k, c.s, c.p, c.d, c.o) == (i, k, s, p, d, o), slug


@pytest.mark.parametrize("slug", list(GUIDE))
def test_each_shape_is_the_guides_and_pytorchs_and_the_twin_inverts_it(slug):
    c = CASES[slug]
    i, k, s, p, d, o = GUIDE[slug]
    torch_out = F.conv2d(torch.zeros(1, 1, i, i), torch.zeros(1, 1, k, k), stride=s, padding=p,
                         dilation=d).shape[2:]
    assert c.out_size() == o == torch_out[0] == torch_out[1]
    assert c.shape().out_spatial == (o, o)
    # the twin: o back to i, with the output_padding the guide calls a (1 in the odd case)
    a = c.output_padding()
    assert a == (1 if slug == "padding_strides_odd" else 0)
    torch_twin = F.conv_transpose2d(torch.zeros(1, 1, o, o), torch.zeros(1, 1, k, k), stride=s,
                                    padding=p, output_padding=a, dilation=d).shape[2:]
    assert c.twin_size() == i == torch_twin[0] == torch_twin[1]
    # the guide's equivalent direct convolution: padding p' (and a more at the high end)
    if c.p_eq is not None:
        assert c.equivalent().pads == ((c.p_eq, c.p_eq + a),) * 2
    forward, twin = c.questions()
    assert forward.out_spatial == (o, o) and twin.out_spatial == (i, i)
    assert forward.layer().startswith("nn.Conv2d(1, 1, kernel_size=")
    assert twin.layer().startswith("nn.ConvTranspose2d(1, 1, kernel_size=")


@pytest.mark.parametrize("slug", list(GUIDE))
def test_links_round_trip_to_the_cases_settings(slug):
    c = CASES[slug]
    for link, page, s in zip(c.links(), ("e", "t"), (c.forward(), c.twin())):
        path, query = urlsplit(link).path, dict(parse_qsl(urlsplit(link).query))
        assert path == url.ADDRESSES[page][2]
        back, problems = url.from_query(query, 2)
        assert problems == [] and back == s and query == url.page_query(s, page)
    assert c.twin().tview == "gather"  # the twin opens as the guide draws it


def test_the_pages_links_name_are_the_apps_addresses():
    paths = {path for _, _, _, path in navigation.PAGES}
    assert {p for by_rank in url.ADDRESSES.values() for p in by_rank.values()} <= paths
    assert "gallery" in paths


# ------------------------------------------------------------------------------ the pages

@pytest.mark.parametrize("slug", list(GUIDE))
def test_every_link_opens_a_page_that_computes_the_guides_shape(slug):
    """Open each link as a fresh page: the explorer's scene has the guide's output shape, the
    transposed page's scene gives the convolution's input size back."""
    i, k, s, p, d, o = GUIDE[slug]
    link, twin_link = CASES[slug].links()
    at = open_link(link)
    sc = vp.scene(at)
    assert (sc["in_shape"], sc["kernel"], sc["stride"], sc["dilation"], sc["out_shape"]) == (
        [i, i], [k, k], [s, s], [d, d], [o, o])
    assert sc["pads"] == [[p, p], [p, p]]
    at = open_link(twin_link)
    t = vp.payload(at, "convcore_transposed")
    assert t["scene"]["in_shape"] == [o, o] and t["scene"]["out_shape"] == [i, i]
    assert t["init"]["mode"] == "gather"
    assert not at.error and not [c.value for c in at.caption if "asked" in c.value]


def test_the_gallery_page_shows_every_case_and_its_buttons_open_it():
    at = ok(AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT).run())
    ok(at.switch_page(navigation.page_path("gallery.py")).run())
    assert at.title[0].value == "Convolution arithmetic gallery"
    table = next(m.value for m in at.markdown if m.value.startswith("| case |"))
    rows = [[cell.strip() for cell in line.strip("|").split("|")]
            for line in table.splitlines()[2:]]
    assert len(rows) == len(GUIDE)
    for row, (slug, (i, k, s, p, d, o)) in zip(rows, GUIDE.items()):
        forward, twin = CASES[slug].links()
        assert row[1:3] == [f"{i},{k},{s},{p},{d}", f"**{o}**"], row
        assert row[3] == f"**{i}**"  # the twin gives i back
        assert row[4] == f"[explorer]({forward}) · [twin]({twin})"
    text = " ".join(m.value for m in at.markdown)
    for c in gallery.CASES:
        for q in c.questions():
            assert f"`{q.formulas()[0][1]}`" in text  # the core's formula with the numbers
    assert len(at.button) == 2 * len(GUIDE)
    # a button opens the explorer with the case, in this session
    ok(at.button(key="gallery.padding_strides_odd").click().run())
    assert at.title[0].value == "2-D convolution explorer"
    assert vp.scene(at)["out_shape"] == [3, 3] and vp.scene(at)["in_shape"] == [6, 6]
    assert vp.query(at) == url.page_query(CASES["padding_strides_odd"].forward())
    # and its twin on the transposed page, in the guide's gather view
    ok(at.switch_page(navigation.page_path("gallery.py")).run())
    ok(at.button(key="gallery.padding_strides_odd.t").click().run())
    assert at.title[0].value == "Transposed convolution & gradients"
    t = vp.payload(at, "convcore_transposed")
    assert t["scene"]["out_shape"] == [6, 6] and t["init"]["mode"] == "gather"
    assert vp.query(at) == url.page_query(CASES["padding_strides_odd"].twin(), "t")
