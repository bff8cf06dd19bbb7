"""This checkout's convcore against another version of it, side by side in one process.

Both versions run the same calls on the same arrays in interleaved rounds, timed in CPU time of
this process (``time.process_time``: time spent waiting for a core, which a loaded machine
adds at random, is not counted), so the ratio new / base stays meaningful where wall-clock
times swing 10x.  Cases: ``bench_transposed``'s (transposed convolutions
and both gradients) and ``bench_core``'s forward layers (``algorithm="auto"``).  BLAS runs on
one thread unless ``OPENBLAS_NUM_THREADS`` says otherwise.

    git archive <rev> convcore | tar -x -C /some/dir
    python benchmarks/bench_versions.py /some/dir [--rounds 9] [--markdown] [--only TEXT]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import CASES as FORWARD  # also puts this checkout on sys.path
from bench_transposed import CASES as TRANSPOSED

import convcore as new


def load_base(directory: str):
    """The ``convcore`` package under ``directory``, imported as ``convcore_base``."""
    init = Path(directory) / "convcore" / "__init__.py"
    spec = importlib.util.spec_from_file_location("convcore_base", init,
                                                  submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["convcore_base"] = module
    spec.loader.exec_module(module)
    return module


def cpu_medians(fns, rounds, min_time=0.05):
    """Median CPU seconds per call of each of ``fns``, in interleaved rounds (order alternating)."""
    reps = []
    for fn in fns:
        fn()
        started = time.process_time()
        fn()
        reps.append(max(1, int(min_time / max(time.process_time() - started, 1e-6))))
    times = [[] for _ in fns]
    for r in range(rounds):
        order = range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))
        for i in order:
            started = time.process_time()
            for _ in range(reps[i]):
                fns[i]()
            times[i].append((time.process_time() - started) / reps[i])
    return [statistics.median(t) for t in times]


def calls(cc, kind, x, w, go, kw):
    """The call of ``kind`` on version ``cc``."""
    if kind == "transpose":
        fn = {3: cc.conv_transpose1d, 4: cc.conv_transpose2d}[w.ndim]
        return lambda: fn(x, w, **kw)
    if kind == "grad_input":
        return lambda: cc.conv_grad_input(x.shape, w, go, **kw)
    if kind == "grad_weight":
        return lambda: cc.conv_grad_weight(x, w.shape, go, **kw)
    fn = {3: cc.conv1d, 4: cc.conv2d, 5: cc.conv3d}[w.ndim]
    return lambda: fn(x, w, **kw)


def run(base, rounds, only):
    rng = np.random.default_rng(0)
    cases = [*TRANSPOSED, *((name, "forward", xs, ws, kw) for name, xs, ws, kw in FORWARD)]
    rows = []
    for name, kind, xs, ws, kw in cases:
        if only and only not in name:
            continue
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal(ws).astype(np.float32)
        go = (rng.standard_normal(new.output_shape(xs, ws, **kw)).astype(np.float32)
              if kind.startswith("grad") else None)
        np.testing.assert_allclose(calls(new, kind, x, w, go, kw)(),
                                   calls(base, kind, x, w, go, kw)(), rtol=1e-5, atol=1e-4)
        t_new, t_base = cpu_medians([calls(new, kind, x, w, go, kw),
                                     calls(base, kind, x, w, go, kw)], rounds)
        rows.append((name, t_new, t_base, t_new / t_base))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", help="a folder holding the other version's convcore/")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    base = load_base(args.base)
    print(f"# {Path(new.__file__).parent} (new) vs {Path(base.__file__).parent} (base), BLAS "
          f"threads {os.environ['OPENBLAS_NUM_THREADS']}, median CPU time of {args.rounds} "
          f"rounds")
    rows = run(base, args.rounds, args.only)
    if args.markdown:
        print("| case | new CPU ms | base CPU ms | new / base |\n|---|---:|---:|---:|")
    for name, a, b, r in rows:
        print(f"| {name} | {a * 1e3:.3f} | {b * 1e3:.3f} | {r:.2f} |" if args.markdown else
              f"{name:32s} new {a * 1e3:9.3f} ms   base {b * 1e3:9.3f} ms   new/base {r:5.2f}")


if __name__ == "__main__":
    main()
