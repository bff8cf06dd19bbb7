"""convcore vs PyTorch (CPU) on the issue's layer shapes, measured in the same run.

Prints the median of several rounds for each and their ratio (convcore / PyTorch): these machines
are noisy, so only medians and ratios measured side by side mean anything.

    python benchmarks/bench_core.py [--rounds 7] [--backend numpy|cupy] [--markdown]
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
from convcore.backend import xp_by_name

# name, x shape, weight shape, keyword arguments
CASES = [
    ("5x5 1->2 k3", (1, 1, 5, 5), (2, 1, 3, 3), {}),
    ("64^2 3->8 k3", (1, 3, 64, 64), (8, 3, 3, 3), {}),
    ("512^2 3->16 k3 p1", (1, 3, 512, 512), (16, 3, 3, 3), {"padding": 1}),
    ("56^2 N8 64->64 k3 p1", (8, 64, 56, 56), (64, 64, 3, 3), {"padding": 1}),
    ("56^2 N8 64->64 k3 p2 d2", (8, 64, 56, 56), (64, 64, 3, 3), {"padding": 2, "dilation": 2}),
    ("56^2 N8 64->64 k3 p1 g64", (8, 64, 56, 56), (64, 1, 3, 3), {"padding": 1, "groups": 64}),
    ("28^2 N8 64->128 k1", (8, 64, 28, 28), (128, 64, 1, 1), {}),
    ("1-D N8 64->64 L4096 k5", (8, 64, 4096), (64, 64, 5), {}),
    ("1-D N8 64->64 L4096 k5 g8", (8, 64, 4096), (64, 8, 5), {"groups": 8}),
]


def _batch(fn, reps):
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def _reps(fn, min_time):
    fn()  # warm-up
    t0 = time.perf_counter()
    fn()
    return max(1, int(min_time / max(time.perf_counter() - t0, 1e-7)))


def paired_medians(ours, theirs, rounds, min_time=0.05, pause=0.25):
    """Medians (seconds per call) of interleaved rounds: ours, pause, theirs, pause, ...

    Each round times a batch lasting about ``min_time``.  The pauses let the other library's
    worker threads stop spinning: on 2 cores, a pool still spinning from the previous batch
    steals the CPU and doubles the next batch's time (seen here for both libraries).
    """
    n_ours, n_theirs = _reps(ours, min_time), _reps(theirs, min_time)
    a, b = [], []
    for _ in range(rounds):
        a.append(_batch(ours, n_ours))
        time.sleep(pause)
        b.append(_batch(theirs, n_theirs))
        time.sleep(pause)
    return statistics.median(a), statistics.median(b)


def run(rounds, backend):
    import torch
    import torch.nn.functional as F

    xp = xp_by_name(backend)
    sync = (lambda: xp.cuda.Device().synchronize()) if backend == "cupy" else (lambda: None)
    rng = np.random.default_rng(0)
    rows = []
    for name, xs, ws, kw in CASES:
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal(ws).astype(np.float32)
        b = rng.standard_normal(ws[0]).astype(np.float32)
        xd, wd, bd = xp.asarray(x), xp.asarray(w), xp.asarray(b)
        conv = cc.conv1d if len(ws) == 3 else cc.conv2d
        tconv = F.conv1d if len(ws) == 3 else F.conv2d
        xt, wt, bt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)

        def ours(conv=conv, xd=xd, wd=wd, bd=bd, kw=kw):
            conv(xd, wd, bd, **kw)
            sync()

        def theirs(tconv=tconv, xt=xt, wt=wt, bt=bt, kw=kw):
            tconv(xt, wt, bt, **kw)

        with torch.inference_mode():
            t_ours, t_ref = paired_medians(ours, theirs, rounds)
        rows.append((name, t_ours, t_ref, t_ours / t_ref))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(torch.get_num_threads())
    print(f"# convcore {args.backend} vs torch {torch.__version__} CPU "
          f"({torch.get_num_threads()} threads), numpy {np.__version__}, "
          f"{platform.machine()}, median of {args.rounds} rounds")
    rows = run(args.rounds, args.backend)
    if args.markdown:
        print("| case | convcore ms | torch ms | ratio |\n|---|---:|---:|---:|")
        for name, a, b, r in rows:
            print(f"| {name} | {a * 1e3:.3f} | {b * 1e3:.3f} | {r:.2f} |")
    else:
        for name, a, b, r in rows:
            print(f"{name:28s} convcore {a * 1e3:9.3f} ms   torch {b * 1e3:9.3f} ms   "
                  f"ratio {r:5.2f}")


if __name__ == "__main__":
    main()
