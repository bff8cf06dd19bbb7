"""A randomized sweep of explorer settings through AppTest: random valid settings, out-of-range
values and hostile ones (huge, non-finite, unicode, binary junk) in every URL parameter —
every run ends in the browser view or in an inline message, never in an exception."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import view_payload as vp  # noqa: E402
from test_app_settings import random_settings  # noqa: E402

from app.shared import url  # noqa: E402

SCRIPT = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from app.explorer.page import explorer_page
explorer_page(NDIM)
"""
# CI runs 60 per page (the suite's 12-minute budget); APP_SWEEP_PER_PAGE=500 is the
# 1,000-run sweep quoted in the notes.
PER_PAGE = int(os.environ.get("APP_SWEEP_PER_PAGE", "60"))
GARBAGE = {"stride": ["0", "-3", "99", "x"], "size": ["0", "64", "2,2,2"], "pad": ["-1", "9:9"],
           "groups": ["0", "5", "64"], "dilation": ["0", "40"], "step": ["-1", "10000"],
           "omap": ["99"], "item": ["7"], "shape": ["0", "5000"], "w": ["1,2"]}
HOSTILE = ["9" * 40, "-" + "9" * 30, "1e309", "-1e309", "nan", "inf", "-inf", "1e39", "3e38",
           "１２", "٣", "∞", "🙂", "x" * 5000, "\x00", "%00", "1,,2", ":", "1:2:3", " ", "",
           "0x10", "1_000", "2.5", "True", "None", "[1, 2]", "same", "-0"]
PARAMS = ["batch", "inmaps", "outmaps", "shape", "size", "stride", "dilation", "pad", "mode",
          "groups", "bias", "src", "seed", "sample", "typed", "kernel", "preset", "scheme",
          "kseed", "w", "item", "omap", "step", "speed", "reveal", "presenter"]


def settings_queries(ndim: int, n: int):
    rng = np.random.default_rng(100 + ndim)
    # two that the core refuses whatever the draw: a kernel larger than the data, and values
    # that do not read as numbers
    yield {"src": "typed", "typed": "1, 2" if ndim == 1 else "1 2; 3 4", "kernel": "preset",
           "preset": "gaussian" if ndim == 1 else "gaussian 5x5"}
    yield {"src": "typed", "typed": "1, two, 3"}
    for _ in range(n - 2):
        q = url.to_query(random_settings(rng, ndim))
        if rng.random() < 0.3:  # out-of-range or unreadable URL values
            key = list(GARBAGE)[int(rng.integers(len(GARBAGE)))]
            q[key] = GARBAGE[key][int(rng.integers(len(GARBAGE[key])))]
        for _ in range(int(rng.integers(0, 3)) if rng.random() < 0.5 else 0):  # hostile ones
            q[PARAMS[int(rng.integers(len(PARAMS)))]] = HOSTILE[int(rng.integers(len(HOSTILE)))]
        yield q


@pytest.mark.parametrize("ndim", [1, 2])
def test_random_settings_give_a_view_or_an_inline_error(ndim):
    outcomes = {"view": 0, "error": 0}  # (an upload without a file is neither: a prompt)
    for q in settings_queries(ndim, PER_PAGE):
        at = AppTest.from_string(SCRIPT.replace("NDIM", str(ndim)), default_timeout=60)
        at.query_params.update(q)
        at.run()
        assert not at.exception, (q, [e.value for e in at.exception])
        has_view = vp.view_element(at) is not None
        prompt = q.get("src") == "upload" and any("Choose a file" in i.value for i in at.info)
        assert has_view != bool(at.error or prompt), (q, [e.value for e in at.error])
        if has_view or at.error:
            outcomes["view" if has_view else "error"] += 1
        if has_view and sum(outcomes.values()) % 5 == 0:
            # every fifth: the browser reports a step, then a control changes
            vp.report(at, ndim, seq=1, step=0)
            at.run()
            assert not at.exception, (q, [e.value for e in at.exception])
            at.number_input(key=f"e{ndim}.stride.0").set_value(2).run()
            assert not at.exception, (q, [e.value for e in at.exception])
    assert outcomes["view"] > PER_PAGE // 2 and outcomes["error"] > 0, outcomes
