"""convcore's transposed convolution and convolution gradients vs PyTorch (CPU), same run.

Prints medians of interleaved rounds and the ratio convcore / PyTorch for
``conv_transpose{1,2}d`` (vs ``F.conv_transpose{1,2}d``), ``conv_grad_input`` and
``conv_grad_weight`` (vs ``torch.nn.grad.conv2d_input`` / ``_weight``).  ``--gather`` adds the
scatter form against the gather form (zero-insert, pad, flipped kernel, ``convnd``) to show why
the core scatters.

    python benchmarks/bench_transposed.py [--rounds 7] [--markdown] [--gather] [--trace]

On a shared, loaded machine multi-threaded BLAS timings swing 10x from one call to the next
(threads wait for a core); ``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1`` pins both libraries to
one thread each and gives stable ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import interleaved_medians  # also puts the checkout on sys.path

import convcore as cc

# name, kind, input shape, weight shape, keyword arguments
CASES = [
    ("T 5x5 1->2 k3 s2", "transpose", (1, 1, 5, 5), (1, 2, 3, 3), {"stride": 2}),
    ("T 32^2 N8 64->32 k4 s2 p1", "transpose", (8, 64, 32, 32), (64, 32, 4, 4),
     {"stride": 2, "padding": 1}),
    ("T 64^2 16->8 k3 s2 p1 op1", "transpose", (1, 16, 64, 64), (16, 8, 3, 3),
     {"stride": 2, "padding": 1, "output_padding": 1}),
    ("T 56^2 N8 64->64 k3 s1 p1", "transpose", (8, 64, 56, 56), (64, 64, 3, 3),
     {"padding": 1}),
    ("T 56^2 N8 64 k3 s2 g64", "transpose", (8, 64, 56, 56), (64, 1, 3, 3),
     {"stride": 2, "groups": 64}),
    ("T 1-D N8 64->64 L1024 k5 s4", "transpose", (8, 64, 1024), (64, 64, 5), {"stride": 4}),
    ("dX 56^2 N8 64->64 k3 s2 p1", "grad_input", (8, 64, 56, 56), (64, 64, 3, 3),
     {"stride": 2, "padding": 1}),
    ("dW 56^2 N8 64->64 k3 s2 p1", "grad_weight", (8, 64, 56, 56), (64, 64, 3, 3),
     {"stride": 2, "padding": 1}),
    ("dX 56^2 N8 64 k3 p1 g64", "grad_input", (8, 64, 56, 56), (64, 1, 3, 3),
     {"padding": 1, "groups": 64}),
    ("dW 56^2 N8 64 k3 p1 g64", "grad_weight", (8, 64, 56, 56), (64, 1, 3, 3),
     {"padding": 1, "groups": 64}),
]


def gather_transpose(x, w, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The gather form, for comparison only: one forward convnd on the zero-inserted input."""
    gf = cc.gather_form(x, w, stride=stride, padding=padding, output_padding=output_padding,
                        groups=groups, dilation=dilation)
    return cc.convnd(gf.values, gf.weight, dilation=gf.dilation, groups=gf.groups)


def run(rounds, gather):
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    rows = []
    for name, kind, xs, ws, kw in CASES:
        w = rng.standard_normal(ws).astype(np.float32)
        wt = torch.from_numpy(w)
        nd = len(ws) - 2
        if kind == "transpose":
            x = rng.standard_normal(xs).astype(np.float32)
            xt = torch.from_numpy(x)
            ours_fn = cc.conv_transpose1d if nd == 1 else cc.conv_transpose2d
            theirs_fn = F.conv_transpose1d if nd == 1 else F.conv_transpose2d

            def ours(x=x, w=w, kw=kw, fn=ours_fn):
                fn(x, w, **kw)

            def theirs(xt=xt, wt=wt, kw=kw, fn=theirs_fn):
                fn(xt, wt, **kw)

            if gather:
                def gathered(x=x, w=w, kw=kw):
                    gather_transpose(x, w, **kw)

                t_scatter, t_gather = interleaved_medians([ours, gathered], rounds)
                rows.append((f"{name} scatter/gather", t_scatter, t_gather,
                             t_scatter / t_gather))
        else:
            x = rng.standard_normal(xs).astype(np.float32)
            go = rng.standard_normal(cc.output_shape(xs, ws, **kw)).astype(np.float32)
            xt, got = torch.from_numpy(x), torch.from_numpy(go)
            if kind == "grad_input":
                def ours(x=x, w=w, go=go, kw=kw):
                    cc.conv_grad_input(x.shape, w, go, **kw)

                def theirs(xt=xt, wt=wt, got=got, kw=kw):
                    torch.nn.grad.conv2d_input(xt.shape, wt, got, **kw)
            else:
                def ours(x=x, w=w, go=go, kw=kw):
                    cc.conv_grad_weight(x, w.shape, go, **kw)

                def theirs(xt=xt, wt=wt, got=got, kw=kw):
                    torch.nn.grad.conv2d_weight(xt, wt.shape, got, **kw)
        with torch.inference_mode():
            t_ours, t_ref = interleaved_medians([ours, theirs], rounds)
        rows.append((name, t_ours, t_ref, t_ours / t_ref))
    return rows


def run_trace(rounds):
    """Median ms of the teaching helpers at sizes the app's pages use (no reference)."""
    import statistics
    import time

    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 64, 64))
    w = rng.standard_normal((1, 1, 3, 3))
    big = rng.standard_normal((1, 1, 256, 256))
    stack = ([dict(kernel_size=3, stride=2, padding=1)] * 4
             + [dict(kernel_size=3, dilation=2, padding=2)] * 4)
    calls = [
        ("trace_scatter, one input cell of 64^2, k3 s2", lambda: cc.trace_scatter(
            x, w, in_index=(0, 0, 30, 30), stride=2, padding=1, output_padding=1)),
        ("trace_transposed, one output cell of 128^2", lambda: cc.trace_transposed(
            x, w, out_index=(0, 0, 60, 60), stride=2, padding=1, output_padding=1)),
        ("scatter_map 64^2 k3 s2 (every cell)", lambda: cc.scatter_map((64, 64), 3, stride=2)),
        ("overlap_counts 256^2 k3 s2", lambda: cc.overlap_counts((256, 256), 3, stride=2)),
        ("gather_form 256^2 k3 s2", lambda: cc.gather_form(big, w, stride=2, padding=1)),
        ("receptive_field, 8 layers, 256^2", lambda: cc.receptive_field(stack, (256, 256))),
        ("cell_receptive_field, 8 layers, 256^2", lambda: cc.cell_receptive_field(
            stack, (256, 256), (3, 3))),
    ]
    rows = []
    for name, fn in calls:
        fn()
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        rows.append((name, statistics.median(times)))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--gather", action="store_true", help="also time the gather form")
    ap.add_argument("--trace", action="store_true", help="time the teaching helpers instead")
    args = ap.parse_args()
    if args.trace:
        for name, t in run_trace(args.rounds):
            ms = t * 1e3
            print(f"| {name} | {ms:.2f} |" if args.markdown else f"{name:45s} {ms:8.2f} ms")
        return
    import torch

    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"# convcore numpy (BLAS threads: {blas}) vs torch {torch.__version__} CPU "
          f"({torch.get_num_threads()} threads), numpy {np.__version__}, {platform.machine()}, "
          f"median of {args.rounds} rounds")
    rows = run(args.rounds, args.gather)
    if args.markdown:
        print("| case | convcore ms | reference ms | ratio |\n|---|---:|---:|---:|")
        for name, a, b, r in rows:
            print(f"| {name} | {a * 1e3:.3f} | {b * 1e3:.3f} | {r:.2f} |")
    else:
        for name, a, b, r in rows:
            print(f"{name:40s} convcore {a * 1e3:9.3f} ms   ref {b * 1e3:9.3f} ms   "
                  f"ratio {r:5.2f}")


if __name__ == "__main__":
    main()
