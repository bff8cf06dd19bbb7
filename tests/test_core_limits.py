"""The reproducers of the second hardening round (issue 14), each in a capped process.

Every call runs in a fork of one probe process with its address space limited to what it had
plus :data:`CAP_BYTES`, and its CPU time to :data:`CAP_SECONDS` (``resource.setrlimit``), so a
regression fails the test instead of taking the machine down.  The probe reports the outcome,
the message, the seconds (wall and CPU) and the peak memory of the call (the rise of
``VmHWM``, reset just before the call).  Before the fix these calls asked for 3.7-59.6 GiB,
returned a 3 GiB array under ``max_bytes=1024``, ran for minutes or raised OverflowError; each
now returns the right answer or ConvError, in the caps.

Run as a script it prints the table for the checkout on ``PYTHONPATH`` (``RESULTS.md`` has it for
before and after): ``PYTHONPATH=path/to/checkout python tests/test_core_limits.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CAP_BYTES = 1 * 2**30  # address space a call may add
CAP_SECONDS = 30  # CPU seconds a call may use
PEAK_BYTES = 256 * 2**20  # what a fixed call may really touch (the largest uses ~140 MB)

B = "np.broadcast_to(np.float32(1), (1, 1, 10**9))"  # 3.7 GiB if anything copies it
CASES = [  # (name, expression, expected value or None, phrases of the ConvError or None)
    ("conv_transpose1d of a broadcast 10^9 input, 20 outputs",
     f"cc.conv_transpose1d({B}, np.ones((1, 1, 1), np.float32), padding=499_999_990).tolist()",
     [[[1.0] * 20]], None),
    ("conv1d of a broadcast 10^9 input, stride 10^8",
     f"cc.conv1d({B}, np.ones((1, 1, 1), np.float32), stride=10**8).tolist()",
     [[[1.0] * 10]], None),
    ("conv_grad_weight, broadcast grad_output (1, 2**28, 3)",
     "cc.conv_grad_weight(np.ones((1, 1, 5), np.float32), (2**28, 1, 3), "
     "np.broadcast_to(np.float32(1), (1, 2**28, 3)))",
     None, ["conv_grad_weight", "output 3 GiB", "memory budget of 2 GiB"]),
    ("trace_transposed of a broadcast 10^9 input",
     f"cc.trace_transposed({B}, np.ones((1, 1, 3), np.float32), out_index=(0, 0, 5)).value",
     3.0, None),
    ("conv_grad_weight, empty batch, max_bytes=1024",
     "cc.conv_grad_weight(np.zeros((0, 1, 5), np.float32), (2**28, 1, 3), "
     "np.zeros((0, 2**28, 3), np.float32), max_bytes=1024)",
     None, ["output 3 GiB", "max_bytes=1024"]),
    ("conv_grad_weight, empty batch, default budget",
     "cc.conv_grad_weight(np.zeros((0, 1, 5), np.float32), (2**28, 1, 3), "
     "np.zeros((0, 2**28, 3), np.float32))",
     None, ["output 3 GiB", "memory budget of 2 GiB"]),
    ("cell_receptive_field, 200 layers of padding 65535",
     "cc.cell_receptive_field([dict(kernel_size=1, padding=65535)] * 200, 1, 0)",
     None, ["200 layers", "2634507600 cells", "67108864"]),
    ("cell_receptive_field, 40 layers of kernel 65535",
     "(lambda cf: [list(cf.first), list(cf.last), list(cf.paths.shape), "
     "int(cf.paths.argmax())])("
     "cc.cell_receptive_field([dict(kernel_size=65535)] * 40, 40 * 65534 + 1, 0))",
     [[0], [40 * 65534], [40 * 65534 + 1], 20 * 65534], None),
    ("receptive_field, 40 layers of kernel 65535",
     "list(cc.receptive_field([dict(kernel_size=65535)] * 40).size)", [40 * 65534 + 1], None),
    ("receptive_field, 10^5 layers",
     "cc.receptive_field([dict(kernel_size=3, padding=1)] * 10**5)",
     None, ["at most 10000 layers", "100000"]),
    ("receptive_field, 10^4 layers (the limit)",
     "(lambda rf: [list(rf.size), list(rf.start)])(cc.receptive_field("
     "[dict(kernel_size=3, padding=1)] * 10**4))", [[20001], [-10000]], None),
    ("scatter_map, dilation 2**63", "cc.scatter_map((4,), (1,), dilation=2**63).coords.tolist()",
     [[[0]], [[1]], [[2]], [[3]]], None),
    ("scatter_map, stride 2**64", "cc.scatter_map((1,), (1,), stride=2**64).coords.tolist()",
     [[[0]]], None),
    ("overlap_counts, dilation 2**63",
     "cc.overlap_counts((1,), (1,), dilation=2**63).counts.tolist()", [1], None),
    ("gather_form, stride 2**64",
     "cc.gather_form(np.ones((1, 1, 1)), np.ones((1, 1, 2)), stride=2**64).values.tolist()",
     [[[0.0, 1.0, 0.0]]], None),
    ("window_map, stride 2**64", "cc.window_map(1, 1, stride=2**64).coords.tolist()",
     [[[0]]], None),
    ("conv1d of numbers written as strings", "cc.conv1d([[['1', '2', '3']]], [[[1.0]]])",
     None, ["input must be an array of numbers", "'1'"]),
]

PROBE = r'''
import json, os, resource, sys, time
import numpy as np, convcore as cc

def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field))

def run(expression, cap_bytes, cap_seconds):
    size = status("VmSize:")
    resource.setrlimit(resource.RLIMIT_AS, (size + cap_bytes, size + cap_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cap_seconds, cap_seconds))
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the high-water mark starts again from here
    rss = status("VmHWM:")
    started, cpu = time.perf_counter(), time.process_time()
    result = {}
    try:
        value = eval(expression, {"np": np, "cc": cc})
        result.update(outcome="ok", value=value if isinstance(value, (list, float, int))
                      else repr(value)[:200])
    except Exception as e:  # the test judges what escapes
        result.update(outcome=type(e).__name__, message=str(e)[:400])
    result.update(seconds=time.perf_counter() - started, cpu=time.process_time() - cpu,
                  peak=status("VmHWM:") - rss)
    return result

cases, cap_bytes, cap_seconds = json.loads(sys.stdin.read())
for expression in cases:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.write(write, json.dumps(run(expression, cap_bytes, cap_seconds)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        text = f.read()
    _, code = os.waitpid(pid, 0)
    print(text if text else json.dumps({"outcome": f"killed (wait status {code})"}), flush=True)
'''


def probe(expressions, pythonpath=None) -> list[dict]:
    """Outcome, message, seconds and peak bytes of each expression, each in a capped fork."""
    expressions = list(expressions)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PYTHONPATH=str(pythonpath or ROOT))
    env.pop("CONVCORE_MAX_BYTES", None)
    done = subprocess.run([sys.executable, "-c", PROBE], input=json.dumps(
        [expressions, CAP_BYTES, CAP_SECONDS]), capture_output=True, text=True, env=env,
        cwd=str(pythonpath or ROOT), timeout=60 + CAP_SECONDS * len(expressions))
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.fixture(scope="module")
def outcomes():
    return dict(zip((c[0] for c in CASES), probe(c[1] for c in CASES)))


@pytest.mark.parametrize(("name", "expression", "value", "phrases"), CASES,
                         ids=[c[0] for c in CASES])
def test_reproducer_is_right_or_refused_within_the_caps(outcomes, name, expression, value,
                                                        phrases):
    result = outcomes[name]
    if phrases is None:
        assert result["outcome"] == "ok", result
        assert result["value"] == value
    else:
        assert result["outcome"] == "ConvError", result
        for phrase in phrases:
            assert phrase in result["message"], (phrase, result["message"])
    assert result["peak"] < PEAK_BYTES, result


def main():
    checkout = os.environ.get("PYTHONPATH") or str(ROOT)
    print(f"| reproducer | outcome | seconds | CPU seconds | peak MiB |  ({checkout})\n"
          f"|---|---|---:|---:|---:|")
    for (name, *_), r in zip(CASES, probe((c[1] for c in CASES), checkout)):
        what = r["outcome"] + (f": {r['message'][:70]}" if r.get("message") else "")
        seconds = f"{r['seconds']:.3f}" if "seconds" in r else "—"
        cpu = f"{r['cpu']:.3f}" if "cpu" in r else "—"
        peak = f"{r['peak'] / 2**20:.1f}" if "peak" in r else "—"
        print(f"| {name} | {what} | {seconds} | {cpu} | {peak} |")


if __name__ == "__main__":
    main()
