"""The app's server-side budget, measured with Streamlit's AppTest (no browser).

- rerun latency after the browser view reports a step, and after moving a control, on the
  default 2-D page, both as AppTest sees it and as the script's own clock says (the footer);
- the default pages' payload: every element proto the run sends, the view's scene counted
  apart (target: <= 300 kB);
- compute time for a 1024x1024 2-D input, a 100 000-sample 1-D input and the heaviest layers
  the budget accepts (target: no rerun over 1 s): the cached computation alone (convolution +
  trace objects + scene) and a first page run, with the algorithm the core chose.

    python benchmarks/bench_app.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

import convcore as cc  # noqa: E402
from app.shared import model, url, view  # noqa: E402
from app.shared import scene as scenes  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
import view_payload as vp  # noqa: E402

ENTRY = str(ROOT / "app" / "streamlit_app.py")
BIG = {
    "2-D 1024x1024, 3x3, pad 1": dict(
        ndim=2, query={"src": "random", "shape": "1024", "size": "3", "pad": "1"}),
    "1-D 100 000 samples, size 5, pad 2": dict(
        ndim=1, query={"src": "random", "shape": "100000", "size": "5", "pad": "2"}),
    # the heaviest layers the budget accepts, one per algorithm the core chooses for them
    "2-D 1024x1024, 31x31, pad 15 (fft, 1.0e9 multiply-adds)": dict(
        ndim=2, query={"src": "random", "outmaps": "1", "shape": "1024", "size": "31",
                       "pad": "15"}),
    "2-D 16->16 maps 256x256, 9x9, pad 4 (im2col, 1.4e9)": dict(
        ndim=2, query={"src": "random", "inmaps": "16", "outmaps": "16", "shape": "256",
                       "size": "9", "pad": "4"}),
    "2-D 64 maps depthwise 256x256, 15x15, pad 7 (0.94e9)": dict(
        ndim=2, query={"src": "random", "inmaps": "64", "outmaps": "64", "groups": "64",
                       "shape": "256", "size": "15", "pad": "7"}),
    "1-D 4->32 maps 100 000, size 63, pad 31 (0.81e9)": dict(
        ndim=1, query={"src": "random", "inmaps": "4", "outmaps": "32", "shape": "100000",
                       "size": "63", "pad": "31"}),
}


def page(ndim: int, query: dict | None = None) -> AppTest:
    """A session on the explorer page of ``ndim`` through the real entry point."""
    at = AppTest.from_file(ENTRY, default_timeout=300)
    at.query_params.update(query or {})
    if ndim == 2:
        at.run()
        at.switch_page("pages/explorer_2d.py")
    return at.run()


def footer_ms(at: AppTest) -> float:
    text = at.sidebar.caption[-1].value
    return float(re.search(r"this rerun: (\d+) ms", text).group(1))


def payload(at: AppTest) -> tuple[int, int]:
    """(all element protos, the view's scene) in bytes for the last run."""
    total = specs = 0
    stack = [at._tree]
    while stack:
        node = stack.pop()
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            stack.extend(children.values())
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ByteSize"):
            total += proto.ByteSize()
            if getattr(proto, "component_name", "") == vp.COMPONENT:
                specs += len(proto.json.encode())
    return total, specs


def time_moves(at: AppTest, moves: dict, rounds: int) -> list[tuple[str, float, float]]:
    """Median AppTest run and script time (the footer's) after each kind of move."""
    rows = []
    for name, move in moves.items():
        for i in range(3):  # warm caches and imports
            move(i).run()
        wall, script = [], []
        for i in range(rounds):
            move(i)
            t0 = time.perf_counter()
            at.run()
            wall.append(time.perf_counter() - t0)
            script.append(footer_ms(at))
            assert not at.exception, [e.value for e in at.exception]
        rows.append((name, statistics.median(wall) * 1e3, statistics.median(script)))
    return rows


def rerun_latency(rounds: int) -> list[tuple[str, float, float]]:
    at = page(2)
    seq = iter(range(10**9))

    def report(i):
        vp.report(at, 2, seq=next(seq), step=i % 8)
        return at

    moves = {
        "the view reports a step": report,
        "stride W (1 <-> 2)": lambda i: at.number_input(key="e2.stride.1").set_value(1 + i % 2),
        "kernel size H (2 <-> 3)": lambda i: at.number_input(key="e2.size.0").set_value(
            2 + i % 2),
    }
    return time_moves(at, moves, rounds)


TRANSPOSED_SCRIPT = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from app.transposed.page import transposed_page
transposed_page()
"""


def transposed_rerun(rounds: int) -> list[tuple[str, float, float]]:
    """Reruns of the transposed page (2-D) after a control change or a step report."""
    at = AppTest.from_string(TRANSPOSED_SCRIPT, default_timeout=300)
    at.query_params.update({"ndim": "2", "stride": "2", "size": "3", "shape": "5"})
    at.run()
    seq = iter(range(10**9))

    def report(i):
        proto = next(e.proto for e in at.main
                     if getattr(getattr(e, "proto", None), "component_name", "") ==
                     "convcore_transposed")
        data = json.loads(json.loads(proto.json))
        at.session_state["t2.view"] = {"view": {"scene": data["scene_id"], "seq": next(seq),
                                                **data["init"], "step": i % 20}}
        return at

    moves = {
        "the view reports a step": report,
        "stride W (2 <-> 3)": lambda i: at.number_input(key="t2.stride.1").set_value(2 + i % 2),
        "output padding H (0 <-> 1)": lambda i: at.number_input(key="t2.opad.0").set_value(
            i % 2),
    }
    return time_moves(at, moves, rounds)


def clear_caches() -> None:
    for fn in (model._compute, model._load_input, view.scene_text):
        fn.clear()


def compute_time(ndim: int, query: dict, rounds: int) -> dict:
    s, _ = url.from_query(query, ndim)
    samples, conv, trace = [], [], []
    for _ in range(max(3, rounds // 3)):
        clear_caches()
        t0 = time.perf_counter()
        comp = model.compute(s)
        model.step_trace(comp, s, comp.steps // 2)
        json.dumps(scenes.build_scene(comp, 0, 0))
        samples.append(time.perf_counter() - t0)
        conv.append(comp.conv_ms)
        trace.append(comp.trace_ms)
    clear_caches()
    t0 = time.perf_counter()
    at = page(ndim, query)
    first = time.perf_counter() - t0
    assert not at.exception and not at.error, [e.value for e in at.exception]
    first_script = footer_ms(at)
    vp.report(at, ndim, seq=1, step=comp.steps // 3)
    t0 = time.perf_counter()
    at.run()
    rerun = time.perf_counter() - t0
    total, specs = payload(at)
    return dict(compute=statistics.median(samples) * 1e3, conv=statistics.median(conv),
                trace=statistics.median(trace), first_page=first * 1e3,
                first_script=first_script, rerun=rerun * 1e3, payload=total, specs=specs,
                shape=comp.out.shape, algorithm=comp.algorithm[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    print(f"# convcore app, backend {cc.backend_name()}, numpy {np.__version__}, "
          f"{platform.machine()}, median of {args.rounds} rounds")
    print("\n## Rerun after a step report or a control change, default 2-D page\n")
    print("| control | AppTest run ms | script ms (footer) |")
    print("|---|---:|---:|")
    for name, wall, script in rerun_latency(args.rounds):
        print(f"| {name} | {wall:.0f} | {script:.0f} |")
    print("\n## Transposed & gradients page, 2-D 5x5 stride 2 kernel 3 (target <= 150 ms)\n")
    print("| control | AppTest run ms | script ms (footer) |")
    print("|---|---:|---:|")
    for name, wall, script in transposed_rerun(args.rounds):
        print(f"| {name} | {wall:.0f} | {script:.0f} |")
    print("\n## Payload of the default pages (target <= 300 kB)\n")
    print("| page | all element protos | of which the view's scene |")
    print("|---|---:|---:|")
    for ndim in (1, 2):
        total, specs = payload(page(ndim))
        print(f"| default {ndim}-D explorer | {total / 1e3:.1f} kB | {specs / 1e3:.1f} kB |")
    print("\n## Big inputs (target: compute < 1 s)\n")
    print("| input | algorithm | compute ms (conv + trace + scene) | conv ms | trace ms | first "
          "page run ms (script) | step report rerun ms | payload |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, case in BIG.items():
        r = compute_time(case["ndim"], case["query"], args.rounds)
        print(f"| {name} -> {r['shape']} | {r['algorithm']} | {r['compute']:.0f} | "
              f"{r['conv']:.0f} | {r['trace']:.0f} | "
              f"{r['first_page']:.0f} ({r['first_script']:.0f}) | "
              f"{r['rerun']:.0f} | {r['payload'] / 1e3:.0f} kB |")


if __name__ == "__main__":
    main()
