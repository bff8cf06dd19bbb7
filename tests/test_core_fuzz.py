"""Only ConvError escapes convcore's public functions, whatever they are given.

Each public function has a legal base call; hypothesis replaces one or two of its arguments
with arbitrary Python values — ints of any size, floats with nan and inf, None, strings, bytes,
nested tuples and lists, dicts, NumPy arrays of wrong dtypes and shapes, torch tensors, odd
objects; array arguments also by the legal array in another dtype, layout (broadcast, Fortran
order, a strided view), as a torch tensor or as nested lists — and the call must return or
raise ConvError (nothing else: no TypeError, no MemoryError, no hang).  The memory budget is
16 MiB here, so a call that would allocate more is refused, as a server would refuse it.

A call that returns must be right where an oracle is at hand (:func:`check_right`): transposed
convolutions against PyTorch, gradients by the adjoint identity with the forward core
(``<conv(z, w), g> = <z, grad_input> = <w, grad_weight>``), traces against the convolution they
trace, receptive fields against the shapes and the recurrence.  :data:`FAMILIES` groups the
functions; :data:`REPEAT` gives some of them several calls per example, so that every family of
the newer surfaces gets hundreds of hostile calls.

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
# transposed: C_in 4 -> C_out 2·3 in 2 groups; the gradients of conv1d(X1, W1, **CONV)
XT1, WT1, BT1 = (RNG.standard_normal(s).astype(np.float32) for s in ((2, 4, 5), (4, 3, 3), (6,)))
XT2, WT2 = (RNG.standard_normal(s).astype(np.float32) for s in ((1, 2, 4, 3), (2, 2, 3, 2)))
XT3, WT3 = (RNG.standard_normal(s).astype(np.float32) for s in ((1, 1, 3, 2, 2), (1, 2, 2, 2, 2)))
G1 = RNG.standard_normal((2, 6, 7)).astype(np.float32)
TRANSPOSE = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1, output_size=None,
                 max_bytes=None)
GRAD = dict(stride=1, padding=1, dilation=1, groups=2, padding_mode="reflect", max_bytes=None)
LAYERS = [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, dilation=2)]
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
        # transposed convolutions, their shapes, and the gradients
        "conv_transpose1d": ("cc.conv_transpose1d", dict(x=XT1, weight=WT1, bias=BT1,
                                                         **TRANSPOSE)),
        "conv_transpose2d": ("cc.conv_transpose2d", dict(
            x=XT2, weight=WT2, bias=None, **{**TRANSPOSE, "groups": 1, "stride": (2, 1),
                                             "padding": (1, 0), "output_padding": (1, 0)})),
        "conv_transpose3d": ("cc.conv_transpose3d", dict(
            x=XT3, weight=WT3, bias=None, **{**TRANSPOSE, "groups": 1, "padding": 0})),
        "conv_transposend": ("cc.conv_transposend", dict(x=XT1, weight=WT1, bias=None,
                                                         **TRANSPOSE)),
        "transpose_output_size": ("cc.transpose_output_size", dict(
            in_size=5, kernel_size=3, stride=2, padding=1, output_padding=1, dilation=1)),
        "transpose_output_shape": ("cc.transpose_output_shape", dict(
            x_shape=XT1.shape, weight_shape=WT1.shape, stride=2, padding=1, output_padding=1,
            groups=2, dilation=1, output_size=None)),
        "max_transpose_padding": ("cc.max_transpose_padding", dict(
            in_size=5, kernel_size=3, stride=2, dilation=1)),
        "colliding_input_sizes": ("cc.colliding_input_sizes", dict(
            out_size=4, kernel_size=3, stride=2, padding=1, dilation=1)),
        "conv_grad_input": ("cc.conv_grad_input", dict(input_shape=X1.shape, weight=W1,
                                                       grad_output=G1, **GRAD)),
        "conv_grad_weight": ("cc.conv_grad_weight", dict(x=X1, weight_shape=W1.shape,
                                                         grad_output=G1, **GRAD)),
        # the transposed convolution's teaching trace
        "trace_scatter": ("cc.trace_scatter", dict(x=XT1, weight=WT1, bias=BT1,
                                                   in_index=(1, 2, 3), **TRANSPOSE)),
        "trace_transposed": ("cc.trace_transposed", dict(x=XT1, weight=WT1, bias=BT1,
                                                         out_index=(1, 4, 5), **TRANSPOSE)),
        "transposed_equation": ("cc.transposed_equation", dict(
            step=cc.trace_transposed(XT1, WT1, out_index=(0, 1, 2), groups=2), max_terms=4)),
        "scatter_map": ("cc.scatter_map", dict(in_spatial=(4, 3), kernel_size=(3, 2), stride=2,
                                               padding=1, output_padding=1, dilation=1,
                                               steps=[0, 5], max_bytes=None)),
        "overlap_counts": ("cc.overlap_counts", dict(in_spatial=(4, 3), kernel_size=3, stride=2,
                                                     padding=1, output_padding=1, dilation=1,
                                                     max_bytes=None)),
        "gather_form": ("cc.gather_form", dict(x=XT1, weight=WT1, **TRANSPOSE)),
        "gather_form_shape": ("cc.gather_form_shape", dict(
            x_shape=XT1.shape, weight_shape=WT1.shape, stride=2, padding=1, output_padding=1,
            groups=2, dilation=1, output_size=None)),
        "gather_weight": ("cc.transposed_trace.gather_weight", dict(weight=WT1, groups=2)),
        # receptive fields of stacks
        "receptive_field": ("cc.receptive_field", dict(layers=LAYERS, in_spatial=(16,),
                                                       ndim=None, max_bytes=None)),
        "cell_receptive_field": ("cc.cell_receptive_field", dict(
            layers=LAYERS, in_spatial=16, out_index=1, max_bytes=None)),
        "stack_shapes": ("cc.stack_shapes", dict(in_spatial=16, layers=LAYERS)),
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

FAMILIES = {  # the newer surfaces, each fuzzed with hundreds of calls (40 examples × REPEAT)
    "transposed": ["conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
                   "conv_transposend", "transpose_output_size", "transpose_output_shape",
                   "max_transpose_padding", "colliding_input_sizes"],
    "gradient": ["conv_grad_input", "conv_grad_weight"],
    "trace": ["trace_step", "trace_step_of", "equation", "window_map", "window_map_of",
              "coverage", "coverage_of", "explain_shape", "padded_input", "dilated_kernel",
              "source_map", "trace_scatter", "trace_transposed", "transposed_equation",
              "scatter_map", "overlap_counts", "gather_form", "gather_form_shape",
              "gather_weight"],
    "receptive": ["receptive_field", "cell_receptive_field", "stack_shapes"],
}
REPEAT = {"conv_grad_input": 4, "conv_grad_weight": 4, "receptive_field": 3,
          "cell_receptive_field": 3, "stack_shapes": 3}
EXAMPLES = 40


def family_of(name: str) -> str:
    return next((f for f, names in FAMILIES.items() if name in names), "forward and other")


def variants_of(a: np.ndarray) -> list:
    """The legal array ``a`` as the other forms a caller may give it."""
    import torch

    return [a.astype(np.float64), a.astype(np.float16), np.asfortranarray(a),
            np.broadcast_to(a[(slice(None),) * (a.ndim - 1) + (slice(0, 1),)], a.shape),
            np.repeat(a, 2, axis=-1)[..., ::2], torch.from_numpy(a.astype(np.float64)),
            a.tolist()]


def hostile(key, base_value):
    """Values to put in argument ``key`` whose legal value is ``base_value``."""
    if isinstance(base_value, np.ndarray):
        return st.one_of(values, st.sampled_from(variants_of(base_value)))
    if key == "layers":  # the whole list, or one field of one layer
        one_field = st.tuples(st.integers(0, len(base_value) - 1),
                              st.sampled_from(["kernel_size", "stride", "padding", "dilation",
                                               "kernel", "size"]), values)
        return st.one_of(values, one_field.map(lambda c: [
            {**layer, c[1]: c[2]} if i == c[0] else layer for i, layer in enumerate(base_value)]))
    return values


@pytest.mark.parametrize("name", sorted(TABLE))
def test_the_base_call_is_legal(name):
    fn, kwargs = TABLE[name]
    check_right(name, kwargs, fn(**kwargs))


def test_every_family_gets_hundreds_of_calls():
    for family, names in FAMILIES.items():
        assert all(name in TABLE for name in names), family
        assert sum(EXAMPLES * REPEAT.get(name, 1) for name in names) >= 300, family


@pytest.mark.parametrize("name", sorted(TABLE))
@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_only_conv_error_escapes(name, data):
    fn, base = TABLE[name]
    for _ in range(REPEAT.get(name, 1)):
        keys = data.draw(st.lists(st.sampled_from(sorted(base)), min_size=1, max_size=2,
                                  unique=True), label="mutated")
        kwargs = dict(base)
        for key in keys:
            kwargs[key] = data.draw(hostile(key, base[key]), label=key)
        try:
            result = fn(**kwargs)
        except cc.ConvError as e:
            assert str(e)  # a message for the user
            continue
        check_right(name, kwargs, result)


# --- what a returned result must be ------------------------------------------------------

def _f64(a):
    return np.asarray(cc.to_numpy(a) if not isinstance(a, list) else a, dtype=np.float64)


def _finite(*arrays) -> bool:
    """All finite and small enough that no sum of products overflows in float32."""
    return all(a is None or (np.all(np.isfinite(_f64(a))) and np.max(np.abs(_f64(a)), initial=0)
                             < 1e15) for a in arrays)


def _tol(result):
    return 3e-2 if getattr(result, "dtype", None) == np.float16 else 1e-4


def _plain_int(v):
    """v as PyTorch takes it: ints and tuples of ints (NumPy ints converted)."""
    if isinstance(v, (tuple, list)):
        return tuple(_plain_int(e) for e in v)
    return int(v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else v


def _close_to_torch(result, torch_fn, *args, **kwargs):
    import torch

    try:
        expect = torch_fn(*(torch.from_numpy(_f64(a)) if a is not None else None for a in args),
                          **{k: _plain_int(v) for k, v in kwargs.items()}).numpy()
    except (RuntimeError, ValueError, TypeError):
        return  # PyTorch takes these arguments in another form: nothing to compare
    out = _f64(result)
    scale = max(1.0, float(np.max(np.abs(expect), initial=0)))
    np.testing.assert_allclose(out, expect, rtol=_tol(result), atol=_tol(result) * scale)


def _adjoint(lhs_conv, rhs_pair, result):
    """<conv(z), g> equals <z, result>: the gradient is the adjoint of the convolution."""
    conv, g = lhs_conv, _f64(rhs_pair[1])
    lhs, rhs = float(np.sum(conv * g)), float(np.sum(_f64(rhs_pair[0]) * _f64(result)))
    scale = float(np.sum(np.abs(conv * g))) + float(np.sum(np.abs(_f64(rhs_pair[0])
                                                                 * _f64(result))))
    assert abs(lhs - rhs) <= _tol(result) * (scale + 1e-30), (lhs, rhs)


def check_right(name, kw, result):
    """Assert that a call which returned gave the right answer, where an oracle is at hand."""
    import torch.nn.functional as F

    if name.startswith("conv_transpose"):
        x, w = _f64(kw["x"]), _f64(kw["weight"])
        n = w.ndim - 2
        if kw.get("output_size") is None and 1 <= n <= 3 and _finite(x, w, kw.get("bias")):
            fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[n - 1]
            _close_to_torch(result, fn, x, w, kw.get("bias"), stride=kw["stride"],
                            padding=kw["padding"], output_padding=kw["output_padding"],
                            groups=kw["groups"], dilation=kw["dilation"])
    elif name in ("conv_grad_input", "conv_grad_weight"):
        params = {k: kw[k] for k in ("stride", "padding", "dilation", "groups", "padding_mode")}
        g = _f64(kw["grad_output"])
        rng = np.random.default_rng(0)
        if name == "conv_grad_input":
            w = _f64(kw["weight"])
            if _finite(w, g):
                z = rng.standard_normal(tuple(kw["input_shape"]))
                _adjoint(_f64(cc.convnd(z, w, **params)), (z, g), result)
        else:
            x = _f64(kw["x"])
            if _finite(x, g):
                v = rng.standard_normal(tuple(kw["weight_shape"]))
                _adjoint(_f64(cc.convnd(x, v, **params)), (v, g), result)
    elif name == "trace_transposed" and _finite(kw["x"], kw["weight"], kw["bias"]):
        args = {k: kw[k] for k in TRANSPOSE if k != "max_bytes"}
        out = _f64(cc.conv_transposend(_f64(kw["x"]), _f64(kw["weight"]), None if kw["bias"] is
                                       None else _f64(kw["bias"]), **args))
        expect = out[tuple(result.out_index)]
        assert abs(result.value - expect) <= 1e-6 * max(1.0, abs(expect))
    elif name == "trace_step" and _finite(kw["x"], kw["weight"], kw["bias"]):
        args = {k: kw[k] for k in ("stride", "padding", "dilation", "groups", "padding_mode")}
        out = _f64(cc.convnd(_f64(kw["x"]), _f64(kw["weight"]), None if kw["bias"] is None
                             else _f64(kw["bias"]), **args))
        expect = out[tuple(result.out_index)]
        assert abs(result.value - expect) <= 1e-6 * max(1.0, abs(expect))
    elif name == "gather_form" and _finite(kw["x"], kw["weight"]):
        args = {k: kw[k] for k in TRANSPOSE if k != "max_bytes"}
        expect = _f64(cc.conv_transposend(_f64(kw["x"]), _f64(kw["weight"]), **args))
        got = cc.convnd(result.values.astype(np.float64), result.weight.astype(np.float64),
                        dilation=result.dilation, groups=result.groups)
        np.testing.assert_allclose(got, expect, rtol=1e-6, atol=1e-6 * max(
            1.0, float(np.max(np.abs(expect), initial=0))))
    elif name == "scatter_map":
        for cell, taps in zip(result.in_coords.tolist(), result.coords.tolist()):
            for tap, at in zip(np.ndindex(*result.kernel), taps):
                assert at == [i * s + t * d - p for i, t, s, d, p in zip(
                    cell, tap, result.stride, result.dilation, result.padding)]
    elif name == "stack_shapes":
        size = tuple(np.atleast_1d(kw["in_spatial"]).tolist()) if not isinstance(
            kw["in_spatial"], tuple) else kw["in_spatial"]
        for layer, shape in zip(cc.receptive.resolve_stack(kw["layers"], len(size)), result):
            kernel, stride, dilation, pads = layer
            size = tuple(cc.output_size(n, k, s, p, d) for n, k, s, d, p in
                         zip(size, kernel, stride, dilation, pads))
            assert shape == size
    elif name == "receptive_field":
        size, jump = None, None
        for f in result.layers:
            nd = len(f.kernel)
            size, jump = size or (1,) * nd, jump or (1,) * nd
            size = tuple(r + d * (k - 1) * j for r, k, d, j in zip(size, f.kernel, f.dilation,
                                                                   jump))
            jump = tuple(j * s for j, s in zip(jump, f.stride))
            assert (f.size, f.jump) == (size, jump)
    elif name == "cell_receptive_field":
        reached = np.argwhere(result.paths > 0)
        assert np.all(reached >= np.maximum(result.first, 0))
        assert np.all(reached <= np.asarray(result.last))


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
    """Outcome counts of seeded random mutated calls: 'ok', 'wrong' (returned, and
    :func:`check_right` disagrees) or the exception's type name.

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
                legal = base[key]
                kwargs[key] = (rng.choice(variants_of(legal)) if isinstance(legal, np.ndarray)
                               and rng.random() < 0.3 else random_value(rng))
            signal.setitimer(signal.ITIMER_REAL, seconds)
            try:
                result = fn(**kwargs)
                try:
                    check_right(name, kwargs, result)
                    outcomes[name]["ok"] += 1
                except AssertionError:
                    outcomes[name]["wrong"] += 1
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
    families: dict = collections.defaultdict(collections.Counter)
    for name, counter in outcomes.items():
        total.update(counter)
        families[family_of(name)].update(counter)
        leaks = {k: v for k, v in counter.items() if k not in ("ok", "ConvError")}
        if leaks:
            print(f"{name:18s} {dict(counter)}")
    for family, counter in sorted(families.items()):
        print(f"family {family:18s} {sum(counter.values()):5d} calls: {dict(counter)}")
    raised = sum(v for k, v in total.items() if k != "ok")
    print(f"convcore from {os.path.dirname(cc.__file__)}: {sum(total.values())} calls over "
          f"{len(outcomes)} functions, {raised} raised, {total['ConvError']} of them ConvError "
          f"({100 * total['ConvError'] / max(raised, 1):.1f} %); others: "
          f"{ {k: v for k, v in total.items() if k not in ('ok', 'ConvError')} }")


if __name__ == "__main__":
    main()
