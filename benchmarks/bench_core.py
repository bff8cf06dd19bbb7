"""convcore vs PyTorch (CPU) on the issues' layer shapes, measured in the same run.

For each case: the algorithm ``auto`` chooses, convcore's median time with it, PyTorch's, and
their ratio (convcore / PyTorch).  These machines are noisy, so only medians of interleaved
rounds and ratios measured side by side mean anything.

    python benchmarks/bench_core.py [--rounds 7] [--backend numpy|cupy] [--markdown]
        [--algorithms]   also time every algorithm explicitly, side by side
        [--floor]        time the dense cases' bare GEMM (columns prepared beforehand)
        [--calibrate]    measure the cost model's per-operation constants
        [--only TEXT]    only cases whose name contains TEXT
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import convcore as cc
from convcore import geometry, im2col
from convcore.backend import xp_by_name
from convcore.params import make_spec

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
    ("256^2 1->1 k31 p15", (1, 1, 256, 256), (1, 1, 31, 31), {"padding": 15}),
    ("256^2 3->8 k31 p15", (1, 3, 256, 256), (8, 3, 31, 31), {"padding": 15}),
    ("1-D L65536 k255", (1, 1, 65536), (1, 1, 255), {}),
]
ALGORITHMS = ("im2col", "direct", "fft")


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


def interleaved_medians(fns, rounds, min_time=0.05, pause=0.25):
    """Median seconds per call of each of ``fns``, timed in interleaved rounds with pauses.

    Each round times a batch lasting about ``min_time`` of each function in turn.  The pauses
    let the other library's worker threads stop spinning: on 2 cores, a pool still spinning
    from the previous batch steals the CPU and doubles the next batch's time (seen here for
    both libraries).
    """
    reps = [_reps(fn, min_time) for fn in fns]
    times = [[] for _ in fns]
    for _ in range(rounds):
        for fn, n, out in zip(fns, reps, times):
            out.append(_batch(fn, n))
            time.sleep(pause)
    return [statistics.median(t) for t in times]


def conv_of(ws):
    return {3: cc.conv1d, 4: cc.conv2d, 5: cc.conv3d}[len(ws)]


def run(rounds, backend, only, algorithms):
    import torch
    import torch.nn.functional as F

    xp = xp_by_name(backend)
    sync = (lambda: xp.cuda.Device().synchronize()) if backend == "cupy" else (lambda: None)
    rng = np.random.default_rng(0)
    rows = []
    for name, xs, ws, kw in CASES:
        if only and only not in name:
            continue
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal(ws).astype(np.float32)
        b = rng.standard_normal(ws[0]).astype(np.float32)
        xd, wd, bd = xp.asarray(x), xp.asarray(w), xp.asarray(b)
        conv = conv_of(ws)
        tconv = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[len(ws)]
        xt, wt, bt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
        chosen, _ = cc.choose_algorithm(xs, ws, **kw)
        names = ["auto", *(ALGORITHMS if algorithms else ())]

        def ours(algorithm, conv=conv, xd=xd, wd=wd, bd=bd, kw=kw):
            return lambda: (conv(xd, wd, bd, algorithm=algorithm, **kw), sync())

        def theirs(tconv=tconv, xt=xt, wt=wt, bt=bt, kw=kw):
            tconv(xt, wt, bt, **kw)

        with torch.inference_mode():
            times = interleaved_medians([ours(a) for a in names] + [theirs], rounds)
        rows.append((name, chosen, dict(zip(names, times[:-1])), times[-1]))
    return rows


def gemm_floor(rounds):
    """The dense cases' GEMM alone (columns gathered beforehand) against PyTorch's whole conv.

    What im2col cannot go below: its GEMM is NumPy's BLAS (OpenBLAS) on the same FLOPs.
    """
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    print("| case | GEMM alone ms | torch conv ms | GEMM / torch | GFLOP/s GEMM | GFLOP/s torch |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, xs, ws, kw in CASES:
        if "N8 64->64" not in name or "g" in name.split()[-1]:
            continue
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal(ws).astype(np.float32)
        spec = make_spec("floor", xs, ws, None, 1, kw.get("padding", 0), kw.get("dilation", 1))
        xpad = cc.core.pad_input(np, x, spec.pads, "zeros")
        taps = spec.in_per_group * math.prod(spec.kernel)
        cols = np.ascontiguousarray(geometry.window_view(np, xpad, spec)).reshape(
            xs[0], 1, taps, -1)
        wmat = w.reshape(1, ws[0], taps)
        rows = max(1, im2col.COLUMN_BUDGET_BYTES // (taps * 4 * math.prod(spec.out_spatial[1:])))
        rest = math.prod(spec.out_spatial[1:])
        chunks = [np.ascontiguousarray(cols[..., i:i + rows * rest])
                  for i in range(0, cols.shape[-1], rows * rest)]

        def gemm(chunks=chunks, wmat=wmat):
            for c in chunks:
                np.matmul(wmat, c)

        xt, wt = torch.from_numpy(x), torch.from_numpy(w)
        tconv = {3: F.conv1d, 4: F.conv2d}[len(ws)]

        def theirs(xt=xt, wt=wt, kw=kw, tconv=tconv):
            tconv(xt, wt, **kw)

        with torch.inference_mode():
            t_gemm, t_torch = interleaved_medians([gemm, theirs], rounds)
        flops = 2 * cc.multiply_adds(xs, ws, **kw)
        print(f"| {name} | {t_gemm * 1e3:.2f} | {t_torch * 1e3:.2f} | {t_gemm / t_torch:.2f} | "
              f"{flops / t_gemm / 1e9:.0f} | {flops / t_torch / 1e9:.0f} |")


def calibrate(rounds):
    """Per-operation constants of the cost model in convcore.algorithms, measured here."""
    import scipy.fft

    rng = np.random.default_rng(0)

    def per(fn, count):
        return interleaved_medians([fn], rounds, min_time=0.02, pause=0.01)[0] / count

    x = rng.standard_normal((1, 64, 58, 58)).astype(np.float32)
    spec = make_spec("c", x.shape, (64, 64, 3, 3), None)
    win = geometry.window_view(np, x, spec)[..., :20, :]  # about one 4 MiB chunk
    cols = np.ascontiguousarray(win).reshape(64 * 9, -1)
    wide = rng.standard_normal((64, 64 * 9)).astype(np.float32)
    thin_cols = np.ascontiguousarray(geometry.window_view(np, x, make_spec(
        "c", x.shape, (64, 1, 3, 3), None, groups=64))).reshape(1, 64, 9, -1)
    thin_w = rng.standard_normal((64, 1, 9)).astype(np.float32)
    small_x = rng.standard_normal((8, 8, 8, 2048)).astype(np.float32)
    small_w = rng.standard_normal((8, 8, 8)).astype(np.float32)
    a = rng.standard_normal((64, 2048)).astype(np.float32)
    s = rng.standard_normal((64, 1)).astype(np.float32)
    out = np.empty_like(a)
    img = rng.standard_normal((288, 288)).astype(np.float32)
    f1 = (rng.standard_normal((8, 288 * 145)) + 1j).astype(np.complex64)
    f2, f3 = f1.copy(), f1.copy()
    measured = {
        "C_GATHER": per(lambda: np.ascontiguousarray(win), win.size),
        "C_THIN_GEMM": per(lambda: np.matmul(thin_w, thin_cols), thin_cols.size),
        "C_GEMM": per(lambda: wide @ cols, wide.shape[0] * cols.size),
        "K_FULL": 8 * per(lambda: np.matmul(small_w, small_x), 8 * small_x.size)
        / per(lambda: wide @ cols, wide.shape[0] * cols.size),
        "C_PASS": per(lambda: (np.multiply(a, s, out=out), np.add(out, a, out=out)), 2 * a.size),
        "C_FFT": per(lambda: scipy.fft.rfftn(img, workers=-1),
                     img.size * math.log2(img.size)),
        "C_SPECTRUM": per(lambda: np.add(f3, f1 * f2, out=f3), f1.size),
        "C_CALL": per(lambda: np.add(a[:1, :4], a[:1, :4]), 1),
    }
    print("# cost model constants measured here")
    for name, value in measured.items():
        print(f"{name} = {value:.3g}  (convcore.algorithms: {getattr(cc.algorithms, name):.3g})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--algorithms", action="store_true", help="time every algorithm too")
    ap.add_argument("--floor", action="store_true", help="time the dense cases' bare GEMM")
    ap.add_argument("--calibrate", action="store_true", help="measure the cost model's constants")
    ap.add_argument("--only", default="", help="only cases whose name contains this")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    print(f"# convcore {args.backend} vs torch {torch.__version__} CPU "
          f"({torch.get_num_threads()} threads), numpy {np.__version__}, "
          f"{platform.machine()}, median of {args.rounds} rounds")
    if args.calibrate:
        calibrate(args.rounds)
        return
    if args.floor:
        gemm_floor(args.rounds)
        return
    rows = run(args.rounds, args.backend, args.only, args.algorithms)
    extra = ALGORITHMS if args.algorithms else ()
    if args.markdown:
        head = "".join(f" {a} ms |" for a in extra)
        print(f"| case | auto chose | convcore ms | torch ms | ratio |{head}")
        print("|---|---|---:|---:|---:|" + "---:|" * len(extra))
        for name, chosen, times, ref in rows:
            cells = "".join(f" {times[a] * 1e3:.3f} |" for a in extra)
            print(f"| {name} | {chosen} | {times['auto'] * 1e3:.3f} | {ref * 1e3:.3f} | "
                  f"{times['auto'] / ref:.2f} |{cells}")
    else:
        for name, chosen, times, ref in rows:
            cells = "".join(f"   {a} {times[a] * 1e3:9.3f}" for a in extra)
            print(f"{name:28s} {chosen:6s} convcore {times['auto'] * 1e3:9.3f} ms   torch "
                  f"{ref * 1e3:9.3f} ms   ratio {times['auto'] / ref:5.2f}{cells}")


if __name__ == "__main__":
    main()
