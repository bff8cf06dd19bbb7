"""Only ConvError escapes convcore's public functions, whatever they are given.

Each public function has a legal base call; hypothesis replaces one or two of its arguments
with arbitrary Python values — ints of any size, floats with nan and inf, None, strings, bytes,
nested tuples and lists, dicts, NumPy arrays of wrong dtypes and shapes, torch tensors, odd
objects — and the call must return or raise ConvError (nothing else: no TypeError, no
MemoryError, no hang).  The memory budget is 16 MiB here, so a call that would allocate more is
refused, as a server would refuse it.

Run as a script, it makes seeded random mutated calls and counts the exception types that
escape (``python tests/test_core_fuzz.py --calls 40``; point ``PYTHONPATH`` at another checkout
to count there, under ``ulimit -v`` if that checkout allocates without a budget).
"""

from __future__ import annotations

import argparse
import collections
import inspect
import math
import os
import random
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

if __name__ == "__main__" and not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import convcore as cc

BUDGET = str(16 * 2**20)
RNG = np.random.default_rng(0)
X1, W1, B1 = (RNG.standard_normal(s).astype(np.float32) for s in ((2, 4, 7), (6, 2, 3), (6,)))
X2, W2, B2 = (RNG.standard_normal(s).astype(np.float32) for s in ((1, 2, 6, 5), (4, 1, 3, 2),
                                                                  (4,)))
X3, W3 = (RNG.standard_normal(s).astype(np.float32) for s in ((1, 1, 4, 3, 3), (2, 1, 2, 2, 2)))
GEOMETRY = dict(stride=1, padding=1, dilation=1)
CONV = dict(stride=1, padding=1, dilation=1, groups=2, padding_mode="zeros",
            compute_mode="default", algorithm="auto", max_bytes=None)
SHAPES = dict(x_shape=(2, 4, 7), weight_shape=(6, 2, 3), stride=1, padding=0, dilation=1,
              groups=2)


def _optional(name, attr):
    """A callable from convcore by dotted path, or None when this checkout lacks it."""
    obj = cc
    for part in f"{name}.{attr}".split(".")[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _spec():
    return cc.params.make_spec("t", X2.shape, W2.shape, None, 1, 1, 1, 2)


def _module_call(cls):
    """Construct a ``cls`` module from the keyword arguments and call it on ``data``."""
    from convcore import modules

    def call(data, **kw):
        return getattr(modules, cls)(**kw)(data)

    return call


def _set_var(name, var):
    from convcore.modules import Conv2D

    return Conv2D(2, 4, 3).setVar(name, var)


def _get_var(name):
    from convcore.modules import Conv2D

    return Conv2D(2, 4, 3).getVar(name)


def _sequential(module, key):
    from convcore.modules import Conv2D, Sequential

    seq = Sequential().append(Conv2D(2, 2, 1, name="a"))
    seq.append(module)
    return seq[key](X2)


def _variable(data):
    return cc.Variable(data).shape, repr(cc.Variable(data))


def calls():
    """name -> (callable, legal keyword arguments); functions this checkout lacks are left out."""
    from convcore import examples, gpuarray, modules, trace

    table = {
        "conv1d": (cc.conv1d, dict(x=X1, weight=W1, bias=B1, **CONV)),
        "conv2d": (cc.conv2d, dict(x=X2, weight=W2, bias=B2, **CONV)),
        "conv3d": (cc.conv3d, dict(x=X3, weight=W3, bias=None, **{**CONV, "groups": 1})),
        "convnd": (cc.convnd, dict(x=X2, weight=W2, bias=B2, **CONV)),
        "output_size": (cc.output_size, dict(in_size=10, kernel_size=3, stride=2, padding=1,
                                             dilation=1)),
        "output_shape": (cc.output_shape, dict(SHAPES)),
        "max_padding": (cc.max_padding, dict(in_size=6, padding_mode="reflect")),
        "max_kernel_size": (cc.max_kernel_size, dict(in_size=6, padding=1, dilation=2)),
        "max_dilation": (cc.max_dilation, dict(in_size=6, kernel_size=3, padding=0)),
        "valid_groups": (cc.valid_groups, dict(in_channels=12, out_channels=18)),
        "multiply_adds": (cc.multiply_adds, dict(SHAPES)),
        "trace_step": (cc.trace_step, dict(x=X2, weight=W2, bias=B2, out_index=(0, 1, 2, 3),
                                           stride=1, padding=1, dilation=1, groups=2,
                                           padding_mode="reflect")),
        "equation": (cc.equation, dict(step=cc.trace_step(X2, W2, out_index=(0, 1, 1, 1),
                                                          groups=2), max_terms=4)),
        "window_map": (cc.window_map, dict(in_spatial=(6, 5), kernel_size=3, steps=[0, 3],
                                           **GEOMETRY)),
        "coverage": (cc.coverage, dict(in_spatial=(6, 5), kernel_size=(3, 2), **GEOMETRY)),
        "explain_shape": (cc.explain_shape, dict(in_spatial=(6, 5), kernel_size=3, **GEOMETRY)),
        "group_map": (cc.group_map, dict(in_channels=4, out_channels=6, groups=2,
                                         kernel_size=(3,))),
        "to_megengine": (cc.to_megengine, dict(w=W1, groups=2)),
        "from_megengine": (cc.from_megengine, dict(w=W1.reshape(2, 3, 2, 3))),
        "to_puzzlelib_1d": (cc.to_puzzlelib_1d, dict(w=W1)),
        "from_puzzlelib_1d": (cc.from_puzzlelib_1d, dict(w=W1[:, :, None])),
        "dilated_kernel": (cc.dilated_kernel, dict(weight=W2, dilation=2)),
        "padded_input": (cc.padded_input, dict(x=X2, padding=1, padding_mode="reflect",
                                               kernel_size=3, dilation=1, stride=1,
                                               spatial_dims=None)),
        "source_map": (trace.source_map, dict(n=5, lo=2, hi=1, mode="reflect")),
        "ntuple": (trace.ntuple, dict(value=2, n=2, name="stride", op="conv")),
        "to_numpy": (cc.to_numpy, dict(a=X1)),
        "to_gpu": (gpuarray.to_gpu, dict(a=X1)),
        "to_host": (gpuarray.to_host, dict(a=X1)),
        "Variable": (_variable, dict(data=X1)),
        "init_weights": (modules.init_weights, dict(shape=(4, 2, 3, 3), scheme="he", mode="in",
                                                    groups=1, wscale=1.0)),
        "Conv1D": (_module_call("Conv1D"), dict(data=X1, inmaps=4, outmaps=2, size=3,
                                      stride=1, pad=1, dilation=1, wscale=1.0, useBias=True,
                                      name=None, initscheme=None, empty=False, groups=2)),
        "Conv2D": (_module_call("Conv2D"), dict(data=X2, inmaps=2, outmaps=4, size=3,
                                      stride=2, pad=1, initscheme=("he", "out"), groups=1)),
        "Conv3D": (_module_call("Conv3D"), dict(data=X3, inmaps=1, outmaps=2, size=2)),
        "setVar": (_set_var, dict(name="W", var=cc.Variable(np.zeros((4, 2, 3, 3), np.float32)))),
        "getVar": (_get_var, dict(name="b")),
        "Sequential": (_sequential, dict(module=modules.Conv2D(2, 3, 2), key=1)),
        "get_example": (examples.get_example, dict(example_id="puzzlelib-conv1d-basic")),
    }
    optional = {  # added by later work: counted where the checkout has them
        "choose_algorithm": ("cc.choose_algorithm", dict(**SHAPES, padding_mode="zeros",
                                                         dtype="float32", max_bytes=None)),
        "estimate_memory": ("cc.estimate_memory", dict(**SHAPES, padding_mode="zeros",
                                                       dtype="float16", algorithm="fft")),
        "check_budget": ("cc.check_budget", dict(**SHAPES, algorithm="auto", max_bytes=2**30)),
        "memory_budget": ("cc.memory_budget", dict(max_bytes=1000)),
        "format_number": ("cc.format_number", dict(value=-1.5, digits=4)),
        "format_index": ("cc.format_index", dict(index=(0, -1))),
        "format_span": ("cc.format_span", dict(indices=[1, 2, 3])),
        "format_list": ("cc.format_list", dict(indices=[1, 2], most=8)),
        "window_map_of": ("cc.trace.window_map_of", dict(spec=_spec(), steps=[1])),
        "coverage_of": ("cc.trace.coverage_of", dict(spec=_spec())),
        "multiply_adds_of": ("cc.trace.multiply_adds_of", dict(spec=_spec())),
        "trace_step_of": ("cc.trace.trace_step_of", dict(spec=_spec(), x=X2, weight=W2,
                                                         bias=None, out_index=(0, 0, 0, 0))),
    }
    for name, (path, kwargs) in optional.items():
        fn = _optional(*path.rsplit(".", 1))
        if fn is not None:
            table[name] = (fn, kwargs)
    for name, (fn, kwargs) in table.items():  # an older checkout lacks newer keywords
        params = inspect.signature(fn).parameters
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            table[name] = (fn, {k: v for k, v in kwargs.items() if k in params})
    return table


# --- arbitrary values ------------------------------------------------------------------------

SPECIAL_INTS = [0, 1, -1, 2, 3, 2**31, 2**40, 2**61, 2**62, 2**63, 2**64, -(2**63), 10**9,
                10**10, 10**30]
WORDS = ["same", "valid", "zeros", "reflect", "replicate", "circular", "auto", "im2col",
         "direct", "fft", "float16", "float32", "default", "he", "in", "W", "b", "", "SAME"]
ODD = [object(), slice(1), Ellipsis, np.int64(3), np.float32(2.5), np.bool_(True),
       np.int64(-1), np.uint64(2**64 - 1), np.float64("nan"), 2 + 1j, b"x", bytearray(2)]
DTYPES = ["float32", "float64", "float16", "int64", "bool", "complex64", "object", "<U1"]


def make_array(dtype, shape, fill):
    if dtype == "object":
        return np.full(shape, None if fill else 1, dtype=object)
    if dtype == "<U1":
        return np.full(shape, "a")
    with np.errstate(invalid="ignore", over="ignore"):  # inf and nan as ints: any value will do
        return np.full(shape, fill).astype(dtype)


def make_tensor(shape, fill):
    import torch

    return torch.full(tuple(shape), float(fill))


scalars = st.one_of(
    st.integers(-3, 8), st.sampled_from(SPECIAL_INTS),
    st.integers(-(2**80), 2**80), st.floats(), st.sampled_from([1e39, -1e309, 3e38]),
    st.none(), st.booleans(), st.text(max_size=6), st.sampled_from(WORDS),
    st.sampled_from(ODD),
)
shapes = st.lists(st.integers(0, 4), max_size=5)
fills = st.sampled_from([0.0, 1.0, -2.5, np.inf, np.nan, 3e38])
arrays = st.builds(make_array, st.sampled_from(DTYPES), shapes, fills)
tensors = st.builds(make_tensor, shapes, fills)
values = st.recursive(
    st.one_of(scalars, arrays, tensors),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple),
                            st.dictionaries(st.text(max_size=2), inner, max_size=2)),
    max_leaves=6,
)


@pytest.fixture(scope="module", autouse=True)
def small_budget():
    """A 16 MiB memory budget, as a server would set, so hostile sizes are refused quickly."""
    old = os.environ.get("CONVCORE_MAX_BYTES")
    os.environ["CONVCORE_MAX_BYTES"] = BUDGET
    yield
    if old is None:
        del os.environ["CONVCORE_MAX_BYTES"]
    else:
        os.environ["CONVCORE_MAX_BYTES"] = old


TABLE = calls()


@pytest.mark.parametrize("name", sorted(TABLE))
def test_the_base_call_is_legal(name):
    fn, kwargs = TABLE[name]
    fn(**kwargs)


@pytest.mark.parametrize("name", sorted(TABLE))
@settings(max_examples=40)
@given(data=st.data())
def test_only_conv_error_escapes(name, data):
    fn, base = TABLE[name]
    keys = data.draw(st.lists(st.sampled_from(sorted(base)), min_size=1, max_size=2,
                              unique=True), label="mutated")
    kwargs = dict(base)
    for key in keys:
        kwargs[key] = data.draw(values, label=key)
    try:
        fn(**kwargs)
    except cc.ConvError as e:
        assert str(e)  # a message for the user


# --- the reproducers of issue 8 ------------------------------------------------------------

ONES = np.ones((1, 1, 1, 1), np.float32)
REPRODUCERS = [  # (call, phrases the ConvError message must contain)
    (lambda: cc.conv1d(None, W1), ["input", "None"]),
    (lambda: cc.conv1d(X1, None), ["weight", "None"]),
    (lambda: cc.conv1d(X1, W1, stride=2**61, groups=2), None),  # legal: one window
    (lambda: cc.conv1d(X1, W1, dilation=2**61, groups=2), ["dilation", "output would be empty"]),
    (lambda: cc.conv1d(X1, W1, padding=2**62, groups=2), ["memory budget", "padded input"]),
    (lambda: cc.conv1d(X1, W1, padding=2**64, padding_mode="replicate", groups=2),
     ["memory budget"]),
    (lambda: cc.conv1d(X1, W1, padding=10**9, groups=2), ["memory budget", "GiB"]),
    (lambda: cc.conv2d(ONES, ONES, padding=30000), ["memory budget", "13.4 GiB"]),
    (lambda: cc.conv2d(ONES, ONES, stride=2**61, padding=2**40), ["memory budget"]),
    (lambda: cc.window_map(10, 2, stride=2**40), None),  # legal: one window
    (lambda: cc.window_map(6, 2, steps="a"), ["steps", "'a'"]),
    (lambda: cc.window_map(6, 2, steps=[1.7]), ["steps", "1.7"]),
    (lambda: cc.window_map(6, 2, steps=[2**70]), ["steps"]),
    (lambda: cc.max_kernel_size(6, 2, 0), ["dilation", "0"]),
    (lambda: cc.max_dilation(6, 0), ["kernel_size", "0"]),
    (lambda: cc.equation(None), ["step", "None"]),
    (lambda: cc.explain_shape(None, 2), ["in_spatial", "None"]),
    (lambda: cc.explain_shape(10**10, 3), None),  # legal, and explained without allocating
    (lambda: cc.coverage(10**10, 3), ["coverage", "memory budget"]),
    (lambda: cc.padded_input(ONES, 10**5), ["padded_input", "memory budget"]),
    (lambda: cc.dilated_kernel(W2, 10**6), ["dilated_kernel", "memory budget"]),
    (lambda: cc.group_map(10**6, 10**6, 1), ["group_map", "memory budget"]),
    (lambda: cc.output_size(10**30, 3), None),  # legal: Python ints
]


@pytest.mark.parametrize(("call", "phrases"), REPRODUCERS)
def test_issue_8_reproducers(call, phrases):
    if phrases is None:
        call()
        return
    with pytest.raises(cc.ConvError) as info:
        call()
    for phrase in phrases:
        assert phrase in str(info.value), str(info.value)


def test_window_map_coordinates_are_int64_and_exact():
    m = cc.window_map(2**31 + 10, 1, steps=[2**31 + 5])
    assert m.coords.dtype == np.int64 and m.coords.tolist() == [[[2**31 + 5]]]
    m = cc.window_map(10, 2, stride=2**40)
    assert m.steps == 1 and m.coords.tolist() == [[[0], [1]]]


def test_explain_shape_of_a_huge_axis():
    ex = cc.explain_shape(10**10, 3, stride=2)
    (axis,) = ex.axes
    assert axis.out_size == (10**10 - 3) // 2 + 1 and axis.remainder == 1
    assert "input cell 9999999999 is never read" in ex.warnings[0]


def test_stride_larger_than_any_array_is_one_window():
    out = cc.conv1d(X1, W1, stride=2**61, groups=2)
    np.testing.assert_allclose(out, cc.conv1d(X1[:, :, :3], W1, groups=2), rtol=1e-6)


def test_module_lookup_errors_are_conv_errors_and_container_errors():
    from convcore.modules import Conv2D, Sequential

    seq = Sequential().append(Conv2D(1, 1, 1, name="a"))
    for key, container_error in (("b", KeyError), (3, IndexError), (None, KeyError)):
        with pytest.raises(cc.ConvError) as info:
            seq[key]
        assert isinstance(info.value, container_error)


# --- counting, as a script -----------------------------------------------------------------

def random_value(rng: random.Random, depth: int = 0):
    """One arbitrary value (the script's counterpart of the hypothesis strategy above)."""
    kind = rng.randrange(9 if depth < 2 else 7)
    if kind == 0:
        return rng.choice(SPECIAL_INTS + [rng.randint(-5, 8), rng.randint(-(2**80), 2**80)])
    if kind == 1:
        return rng.choice([math.nan, math.inf, -math.inf, 1.5, -0.0, 1e39, 3e38])
    if kind == 2:
        return rng.choice([None, True, False])
    if kind == 3:
        return rng.choice(WORDS + ["x" * rng.randint(0, 5)])
    if kind == 4:
        return rng.choice(ODD)
    if kind == 5:
        shape = [rng.randint(0, 4) for _ in range(rng.randint(0, 5))]
        return make_array(rng.choice(DTYPES), shape, rng.choice([0.0, 1.0, math.inf, math.nan]))
    if kind == 6:
        return make_tensor([rng.randint(0, 4) for _ in range(rng.randint(0, 4))], 1.0)
    items = [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return items if kind == 7 else tuple(items)


class CallTimeoutError(Exception):
    """A call ran past the script's per-call time limit (a hang, for the count)."""


def _timeout(signum, frame):
    raise CallTimeoutError


def count(calls_per_function: int, seed: int = 0, seconds: float = 5.0) -> dict:
    """Outcome counts of seeded random mutated calls: 'ok' or the exception's type name.

    A call running past ``seconds`` is stopped and counted as ``CallTimeoutError``.
    """
    os.environ["CONVCORE_MAX_BYTES"] = BUDGET
    rng = random.Random(seed)
    outcomes: dict = collections.defaultdict(collections.Counter)
    signal.signal(signal.SIGALRM, _timeout)
    for name, (fn, base) in sorted(calls().items()):
        for _ in range(calls_per_function):
            kwargs = dict(base)
            for key in rng.sample(sorted(base), rng.randint(1, min(2, len(base)))):
                kwargs[key] = random_value(rng)
            signal.setitimer(signal.ITIMER_REAL, seconds)
            try:
                fn(**kwargs)
                outcomes[name]["ok"] += 1
            except Exception as e:  # counting every type is the point
                outcomes[name][type(e).__name__ if not isinstance(e, cc.ConvError)
                               else "ConvError"] += 1
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    return outcomes


def main():
    ap = argparse.ArgumentParser(description="count exception types escaping convcore")
    ap.add_argument("--calls", type=int, default=40, help="mutated calls per function")
    args = ap.parse_args()
    outcomes = count(args.calls)
    total = collections.Counter()
    for name, counter in outcomes.items():
        total.update(counter)
        leaks = {k: v for k, v in counter.items() if k not in ("ok", "ConvError")}
        if leaks:
            print(f"{name:18s} {dict(counter)}")
    raised = sum(v for k, v in total.items() if k != "ok")
    print(f"convcore from {os.path.dirname(cc.__file__)}: {sum(total.values())} calls over "
          f"{len(outcomes)} functions, {raised} raised, {total['ConvError']} of them ConvError "
          f"({100 * total['ConvError'] / max(raised, 1):.1f} %); others: "
          f"{ {k: v for k, v in total.items() if k not in ('ok', 'ConvError')} }")


if __name__ == "__main__":
    main()
