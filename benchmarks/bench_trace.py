"""Timings of the teaching model, against a same-run reference.

- ``trace_step`` on a 256x256 3-channel input with a 5x5 kernel (target: well under 1 ms);
- ``window_map`` for every step of a 64x64 input with a 3x3 kernel (target: under 20 ms),
  with its memory against output positions x taps (int64 coordinates);
- ``explain_shape`` of a 1024x1024 input with stride 2, and of one axis of 2**20 cells with
  stride 3 > kernel 2 (its skipped cells are counted block by block, in O(block) memory), and
  of an axis of 10**12 cells (closed form only).

The reference is one ``convcore.conv2d`` call on the same input (the whole output), measured in
the same run, so the ratio says how a single traced step compares with computing everything.

    python benchmarks/bench_trace.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import convcore as cc


def median_ms(fn, rounds):
    fn()
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 256, 256)).astype(np.float32)
    w = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)

    t_step = median_ms(lambda: cc.trace_step(x, w, b, out_index=(0, 2, 128, 128), padding=2),
                       args.rounds)
    t_conv = median_ms(lambda: cc.conv2d(x, w, b, padding=2), args.rounds)
    t_map = median_ms(lambda: cc.window_map((64, 64), 3, padding=1), args.rounds)
    wmap = cc.window_map((64, 64), 3, padding=1)
    x64 = rng.standard_normal((1, 1, 64, 64)).astype(np.float32)
    t_conv64 = median_ms(lambda: cc.conv2d(x64, w[:1, :1, :3, :3], padding=1), args.rounds)
    nbytes = wmap.coords.nbytes + wmap.starts.nbytes + wmap.out_coords.nbytes
    per_tap = nbytes / (wmap.steps * wmap.coords.shape[1])

    print(f"# convcore trace, numpy {np.__version__}, {platform.machine()}, "
          f"median of {args.rounds} rounds")
    print("| measurement | ms | reference (same run) | ref ms | ratio |")
    print("|---|---:|---|---:|---:|")
    print(f"| trace_step, 256x256x3, 5x5 kernel (75 taps) | {t_step:.3f} | conv2d of the whole "
          f"output | {t_conv:.3f} | {t_step / t_conv:.3f} |")
    print(f"| window_map, 64x64, 3x3, {wmap.steps} steps | {t_map:.3f} | conv2d 64x64 3x3 | "
          f"{t_conv64:.3f} | {t_map / t_conv64:.2f} |")
    t_explain = median_ms(lambda: cc.explain_shape((1024, 1024), 3, stride=2), args.rounds)
    t_scan = median_ms(lambda: cc.explain_shape(2**20, 2, stride=3), max(3, args.rounds // 5))
    t_huge = median_ms(lambda: cc.explain_shape(10**12, 2, stride=3), args.rounds)
    print(f"| explain_shape, 1024x1024, 3x3, stride 2 | {t_explain:.3f} | conv2d 64x64 3x3 | "
          f"{t_conv64:.3f} | {t_explain / t_conv64:.2f} |")
    print(f"| explain_shape, 2**20 cells, k2 s3 (counts skipped cells) | {t_scan:.1f} | conv2d of "
          f"the 256x256 output | {t_conv:.3f} | {t_scan / t_conv:.1f} |")
    print(f"| explain_shape, 10**12 cells, k2 s3 (closed form) | {t_huge:.3f} | conv2d 64x64 3x3 | "
          f"{t_conv64:.3f} | {t_huge / t_conv64:.2f} |")
    print(f"\nwindow_map memory: {nbytes / 1024:.0f} KiB = {per_tap:.1f} bytes per "
          f"(step, tap) for {wmap.steps} steps x {wmap.coords.shape[1]} taps")


if __name__ == "__main__":
    main()
