"""Every invalid argument of the transposed, gradient, trace and receptive-field API raises
ConvError naming the parameter and quoting what it received — never another exception type.

Rows as in test_core_errors.py: ``torch`` says what PyTorch 2.13 does with the same call
(``True``: it rejects it too — asserted: where PyTorch rejects, so do we; ``False``: it accepts
and we are deliberately stricter — asserted too; ``None``: PyTorch has no such argument).  Then
budgets (refused before anything is allocated) and a fuzz of arbitrary Python values.
"""

import contextlib
import os
from dataclasses import dataclass, field
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import convcore as cc
import convcore.transposed as tr

TORCH_T = {"conv_transpose1d": F.conv_transpose1d, "conv_transpose2d": F.conv_transpose2d,
           "conv_transpose3d": F.conv_transpose3d}
TORCH_T_MODULE = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d,
                  3: torch.nn.ConvTranspose3d}


@dataclass
class Case:
    id: str
    op: str
    x: tuple  # input shape (grad_input: input_shape; the grads' grad_output is ``g``)
    w: tuple  # weight shape (grad_weight: weight_shape)
    expect: list
    torch: bool | None
    b: tuple | None = None
    g: tuple | None = None  # grad_output shape
    kw: dict = field(default_factory=dict)
    dtype: str = "float32"
    w_dtype: str | None = None


def arrays(case):
    x = np.zeros(case.x, case.dtype)
    w = np.zeros(case.w, case.w_dtype or case.dtype)
    b = None if case.b is None else np.zeros(case.b, case.dtype)
    g = None if case.g is None else np.zeros(case.g, case.dtype)
    return x, w, b, g


def run_convcore(case):
    x, w, b, g = arrays(case)
    if case.op == "conv_grad_input":
        return cc.conv_grad_input(case.x, w, g, **case.kw)
    if case.op == "conv_grad_weight":
        return cc.conv_grad_weight(x, case.w, g, **case.kw)
    return getattr(cc, case.op)(x, w, b, **case.kw)


def run_torch(case):
    x, w, b, g = arrays(case)
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    tb = None if b is None else torch.from_numpy(b)
    if case.op in ("conv_grad_input", "conv_grad_weight"):
        n = len(case.w) - 2
        fn = getattr(torch.nn.grad, f"conv{n}d_{case.op.rsplit('_', 1)[1]}")
        tg = torch.from_numpy(g)
        if case.op == "conv_grad_input":
            return fn(case.x, tw, tg, **case.kw)
        return fn(tx, case.w, tg, **case.kw)
    if "output_size" in case.kw:
        kw = dict(case.kw)
        n = int(case.op[-2])
        m = TORCH_T_MODULE[n](w.shape[0], w.shape[1] * kw.get("groups", 1), w.shape[2:],
                              stride=kw.get("stride", 1), padding=kw.get("padding", 0),
                              output_padding=kw.get("output_padding", 0),
                              dilation=kw.get("dilation", 1), groups=kw.get("groups", 1),
                              bias=False)
        return m(tx, output_size=kw["output_size"])
    return TORCH_T[case.op](tx, tw, tb, **case.kw)


T1, T2 = "conv_transpose1d", "conv_transpose2d"
GI, GW = "conv_grad_input", "conv_grad_weight"

CASES = [
    # --- output_padding and output_size
    Case("opad-eq-stride", T1, (1, 2, 5), (2, 3, 3), ["output_padding", "smaller than either "
         "stride or dilation", "output_padding=2", "stride=2"], True,
         kw=dict(stride=2, output_padding=2)),
    Case("opad-stride-1", T2, (1, 2, 5, 5), (2, 3, 3, 3), ["output_padding", "spatial axis 1",
         "output_padding=1", "stride=1"], True,
         kw=dict(stride=(2, 1), output_padding=(1, 1))),
    Case("opad-negative", T1, (1, 2, 5), (2, 3, 3), ["output_padding", ">= 0", "-1"], True,
         kw=dict(output_padding=-1)),
    Case("opad-float", T1, (1, 2, 5), (2, 3, 3), ["output_padding", "0.5"], True,
         kw=dict(stride=2, output_padding=0.5)),
    Case("output-size-low", T1, (1, 2, 5), (2, 3, 3), ["output_size", "[11]", "[12]",
         "output_size=[10]"], True, kw=dict(stride=2, output_size=[10])),
    Case("output-size-high", T2, (1, 2, 5, 5), (2, 3, 3, 3), ["output_size", "[11, 7]",
         "[12, 7]", "[13, 7]"], True, kw=dict(stride=(2, 1), output_size=[13, 7])),
    Case("output-size-length", T1, (1, 2, 5), (2, 3, 3), ["output_size", "1 or 3",
         "got 2"], True, kw=dict(stride=2, output_size=[1, 12])),
    Case("output-size-text", T1, (1, 2, 5), (2, 3, 3), ["output_size", "'12'"], True,
         kw=dict(stride=2, output_size="12")),
    Case("output-size-and-opad", T1, (1, 2, 5), (2, 3, 3), ["output_padding or output_size",
         "output_size=[11] means output_padding=(0,)", "output_padding=1"], False,
         kw=dict(stride=2, output_size=[11], output_padding=1)),
    # --- the usual parameters, by PyTorch's rules for transposed convolutions
    Case("padding-negative", T1, (1, 2, 5), (2, 3, 3), ["padding", ">= 0", "-1"], True,
         kw=dict(padding=-1)),
    Case("padding-same", T1, (1, 2, 5), (2, 3, 3), ["padding", "'same'"], True,
         kw=dict(padding="same")),
    Case("padding-pairs", T1, (1, 2, 5), (2, 3, 3), ["padding", "((1, 0),)"], True,
         kw=dict(padding=((1, 0),))),
    Case("padding-crops-all", T1, (1, 2, 5), (2, 3, 3), ["empty", "padding=4", "= -1"], True,
         kw=dict(padding=4)),
    Case("stride-zero", T1, (1, 2, 5), (2, 3, 3), ["stride", ">= 1", "0"], True,
         kw=dict(stride=0)),
    Case("stride-float", T1, (1, 2, 5), (2, 3, 3), ["stride", "1.0"], True,
         kw=dict(stride=1.0)),
    Case("dilation-zero", T2, (1, 2, 5, 5), (2, 3, 3, 3), ["dilation", ">= 1", "(1, 0)"], True,
         kw=dict(dilation=(1, 0))),
    Case("groups-zero", T1, (1, 2, 5), (2, 3, 3), ["groups", "positive", "0"], True,
         kw=dict(groups=0)),
    Case("groups-not-dividing", T1, (1, 4, 5), (4, 3, 3), ["in_channels", "divisible",
         "groups=3"], True, kw=dict(groups=3)),
    Case("channels", T1, (1, 4, 5), (2, 3, 3), ["input channels", "(2, 3, 3)", "4 channels"],
         True),
    Case("bias-shape", T1, (1, 2, 5), (2, 3, 3), ["bias", "(3,)", "(2,)"], True, b=(2,)),
    Case("weight-rank", T1, (1, 2, 5), (2, 3, 3, 3), ["weight", "3-D", "(2, 3, 3, 3)"], True),
    Case("input-rank", T2, (2, 5), (2, 3, 3, 3), ["input", "4-D", "(2, 5)"], True),
    Case("kernel-empty", T1, (1, 2, 5), (2, 3, 0), ["weight dimension", "(2, 3, 0)"], True),
    Case("input-empty-axis", T1, (1, 2, 0), (2, 3, 3), ["spatial extent", "(1, 2, 0)"], True),
    Case("dtype-int", T1, (1, 2, 5), (2, 3, 3), ["input", "floating dtype", "int64"], False,
         dtype="int64"),
    Case("dtype-mixed", T1, (1, 2, 5), (2, 3, 3), ["same dtype", "float32", "float64"], True,
         w_dtype="float64"),
    Case("huge-stride", T1, (1, 2, 5), (2, 3, 3), ["memory budget", "output"], True,
         kw=dict(stride=2**40)),
    # --- gradients
    Case("grad-output-shape", GI, (1, 2, 5), (3, 2, 3), ["grad_output", "(1, 3, 3)",
         "(1, 3, 4)"], True, g=(1, 3, 4)),
    Case("grad-weight-output-shape", GW, (1, 2, 5), (3, 2, 3), ["grad_output", "(1, 3, 3)",
         "(1, 3, 2)"], True, g=(1, 3, 2)),
    Case("grad-input-shape-text", GI, (1, 2, 5), (3, 2, 3), ["input_shape"], None,
         g=(1, 3, 3)),
    Case("grad-stride-zero", GI, (1, 2, 5), (3, 2, 3), ["stride", ">= 1"], True, g=(1, 3, 3),
         kw=dict(stride=0)),
    Case("grad-groups", GW, (1, 2, 5), (3, 2, 3), ["groups=2", "divisible"], True,
         g=(1, 3, 3), kw=dict(groups=2)),
    Case("grad-mode", GI, (1, 2, 5), (3, 2, 3), ["padding_mode", "'mirror'"], None,
         g=(1, 3, 3), kw=dict(padding_mode="mirror")),
    Case("grad-reflect-too-wide", GW, (1, 2, 5), (3, 2, 3), ["reflect", "padding (5, 5)"],
         None, g=(1, 3, 13), kw=dict(padding=5, padding_mode="reflect")),
    Case("grad-kernel-too-big", GI, (1, 2, 2), (3, 2, 3), ["dilated kernel", "empty"], True,
         g=(1, 3, 1)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_error_message(case):
    if case.id == "grad-input-shape-text":
        with pytest.raises(cc.ConvError) as info:
            cc.conv_grad_input("1, 2, 5", np.zeros(case.w, np.float32),
                               np.zeros(case.g, np.float32))
        assert "input_shape" in str(info.value) and "'1, 2, 5'" in str(info.value)
        return
    with pytest.raises(cc.ConvError) as info:
        run_convcore(case)
    message = str(info.value)
    assert message.startswith(case.op + ":"), message
    for phrase in case.expect:
        assert phrase in message, f"{phrase!r} not in {message!r}"


@pytest.mark.parametrize("case", [c for c in CASES if c.torch is not None], ids=lambda c: c.id)
def test_pytorch_agrees(case):
    """Where PyTorch rejects, so do we; where it accepts, the row says we are stricter."""
    if case.torch:
        with pytest.raises((RuntimeError, ValueError, TypeError)):
            run_torch(case)
    else:
        run_torch(case)


# --- the other public functions ----------------------------------------------------------------

OTHER = [
    (lambda: cc.transpose_output_size(0, 3), ["in_size", ">= 1", "0"]),
    (lambda: cc.transpose_output_size(5, 3, padding=6), ["empty", "padding=6"]),
    (lambda: cc.transpose_output_size(5, 0), ["kernel_size", ">= 1"]),
    (lambda: cc.transpose_output_shape("ab", (1, 1, 2)), ["x_shape", "'ab'"]),
    (lambda: cc.colliding_input_sizes(0, 3), ["out_size", "0"]),
    (lambda: cc.colliding_input_sizes(1, 1, padding=5), ["no input length", "out_size=1"]),
    (lambda: cc.colliding_input_sizes(3, 2, padding=(1,)), ["padding", "(1,)"]),
    (lambda: cc.colliding_input_sizes(3, 2, padding=-1), ["padding", ">= 0"]),
    (lambda: cc.trace_scatter(np.ones((1, 1, 3)), np.ones((1, 1, 2)), in_index=(0, 0, 3)),
     ["in_index", "(1, 1, 3)", "(0, 0, 3)"]),
    (lambda: cc.trace_transposed(np.ones((1, 3)), np.ones((1, 2, 2)), out_index=(2, 0)),
     ["out_index", "(c_out, *spatial)", "(2, 0)"]),
    (lambda: cc.trace_transposed(np.ones((1, 3)), np.ones((1, 2, 2)), out_index="0"),
     ["out_index", "'0'"]),
    (lambda: cc.transposed_equation(None), ["TransposedStep", "NoneType"]),
    (lambda: cc.scatter_map(4, 3, steps=[7]), ["steps", "0..3", "7..7"]),
    (lambda: cc.scatter_map(4, 3, steps=[1.5]), ["steps", "1.5"]),
    (lambda: cc.scatter_map(4, 3, stride=2, output_padding=2), ["output_padding"]),
    (lambda: cc.overlap_counts((4, 0), 3), ["spatial extent"]),
    (lambda: cc.overlap_counts(None, 3), ["in_spatial", "None"]),
    (lambda: cc.gather_form(np.ones((1, 1, 3)), np.ones((1, 1, 2)), padding=3), ["empty"]),
    (lambda: cc.receptive_field([]), ["at least one layer"]),
    (lambda: cc.receptive_field(dict(kernel_size=3)), ["list of layers"]),
    (lambda: cc.receptive_field([dict(size=3)]), ["layer 0", "unknown", "'size'"]),
    (lambda: cc.receptive_field([dict(stride=2)]), ["layer 0", "kernel_size"]),
    (lambda: cc.receptive_field([dict(kernel_size=(3,)), dict(kernel_size=(3, 3))]),
     ["mix", "[1, 2]"]),
    (lambda: cc.receptive_field([dict(kernel_size=3, stride=0)]), ["layer 0", "stride"]),
    (lambda: cc.receptive_field([dict(kernel_size=3, padding="same", stride=2)]),
     ["layer 0", "same"]),
    (lambda: cc.receptive_field([3]), ["layer 0", "StackLayer"]),
    (lambda: cc.receptive_field([dict(kernel_size=3)], in_spatial=(8,), ndim=2), ["ndim=2"]),
    (lambda: cc.stack_shapes(5, [dict(kernel_size=3), dict(kernel_size=3, stride=2),
                                 dict(kernel_size=3)]),
     ["layer 2", "empty", "spatial axis 0", "= 3", "1+0+0 = 1"]),
    (lambda: cc.stack_shapes(0, [dict(kernel_size=1)]), ["in_spatial", "0"]),
    (lambda: cc.cell_receptive_field([dict(kernel_size=3)], 8, 6), ["out_index", "(6,)", "6"]),
    (lambda: cc.cell_receptive_field([dict(kernel_size=3)], 10**12, 0), ["memory budget"]),
]


@pytest.mark.parametrize(("call", "phrases"), OTHER, ids=range(len(OTHER)))
def test_other_functions_raise_convError(call, phrases):
    with pytest.raises(cc.ConvError) as info:
        call()
    for phrase in phrases:
        assert phrase in str(info.value), f"{phrase!r} not in {str(info.value)!r}"


def test_deconv_modules_check_at_construction():
    from convcore.modules import Deconv1D, Deconv2D

    with pytest.raises(cc.ConvError, match=r"postpad.*smaller than either stride or dilation"):
        Deconv1D(2, 3, 3, stride=2, postpad=2)
    with pytest.raises(cc.ConvError, match=r"postpad must be an int or a tuple of 2"):
        Deconv2D(2, 3, 3, postpad=(1, 1, 1))
    with pytest.raises(cc.ConvError, match="inmaps and outmaps must be divisible by groups"):
        Deconv2D(3, 4, 3, groups=2)
    with pytest.raises(cc.ConvError, match="empty"):
        Deconv2D(2, 3, 3, empty=True)(np.ones((1, 2, 4, 4), np.float32))
    with pytest.raises(cc.ConvError, match="Deconv1D: input must be 3-D"):
        Deconv1D(2, 3, 3)(np.ones((2, 4), np.float32))


# --- budgets: refused from shapes, before any allocation ---------------------------------------

def test_budget_refuses_before_allocating(monkeypatch):
    def no_alloc(*args, **kwargs):
        raise AssertionError("allocated before checking the budget")

    x = np.ones((1, 1, 4), np.float32)
    w = np.ones((1, 1, 3), np.float32)
    monkeypatch.setattr(np, "zeros", no_alloc)
    with pytest.raises(cc.ConvError, match=r"output 10\.9 TiB"):  # (1, 1, 3000000000003) float32
        cc.conv_transpose1d(x, w, stride=10**12)
    with pytest.raises(cc.ConvError, match="padded input gradient"):
        cc.conv_grad_input((1, 1, 10**12), np.ones((1, 1, 1), np.float32),
                           np.broadcast_to(np.float32(1), (1, 1, 10**12 + 2)), padding=1)
    with pytest.raises(cc.ConvError, match="zero-inserted input"):
        cc.gather_form(x, w, stride=10**11)
    with pytest.raises(cc.ConvError, match="stamp map"):
        cc.scatter_map((10**6, 10**6), 3)
    with pytest.raises(cc.ConvError, match="count map"):
        cc.overlap_counts((10**6, 10**6), 3)


def test_budget_keyword_and_environment(monkeypatch):
    x = np.ones((1, 1, 100), np.float32)
    w = np.ones((1, 1, 3), np.float32)
    # the output, 102 float32 (408 B), and the scatter's workspace: the products of 3 taps
    # with 100 cells (1200 B) and the cells laid out as matrix columns (400 B)
    assert cc.conv_transpose1d(x, w, max_bytes=2008).shape == (1, 1, 102)
    with pytest.raises(cc.ConvError, match=r"scatter workspace 1\.56 KiB, output 408 B\), over "
                                           r"the memory budget of 1\.96 KiB \(max_bytes=2007,"):
        cc.conv_transpose1d(x, w, max_bytes=2007)
    monkeypatch.setenv("CONVCORE_MAX_BYTES", "100")
    with pytest.raises(cc.ConvError, match="memory budget"):
        cc.conv_grad_weight(x, (1, 1, 3), np.ones((1, 1, 98), np.float32))
    monkeypatch.setenv("CONVCORE_MAX_BYTES", "lots")
    with pytest.raises(cc.ConvError, match="CONVCORE_MAX_BYTES"):
        cc.conv_transpose1d(x, w)
    with pytest.raises(cc.ConvError, match="max_bytes"):
        tr.memory_budget(0)


# --- fuzz: arbitrary Python values, only ConvError may escape ----------------------------------

HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 4), st.sampled_from([2**31, 2**63, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3),
    st.lists(st.integers(-2, 3), max_size=4).map(tuple),
    st.lists(st.lists(st.integers(-1, 2), max_size=2).map(tuple), max_size=3).map(tuple),
    st.just(object()), st.just(np.zeros(2, dtype=object)), st.just(torch.zeros(1)),
)

ARRAYS = st.sampled_from([np.ones((1, 2, 5), np.float32), np.ones((2, 5)),
                          np.ones((2, 3, 3), np.float32), np.ones((1, 1, 3, 3)),
                          np.ones(3, np.int8), [[[1.0, 2.0]]], "x", None, 3.5])

FUZZED = {
    "conv_transpose1d": (cc.conv_transpose1d, ("x", "weight", "bias", "stride", "padding",
                                               "output_padding", "groups", "dilation",
                                               "output_size")),
    "conv_transposend": (cc.conv_transposend, ("x", "weight", "bias", "stride", "padding",
                                               "output_padding", "groups", "dilation",
                                               "output_size")),
    "conv_grad_input": (cc.conv_grad_input, ("input_shape", "weight", "grad_output", "stride",
                                             "padding", "dilation", "groups", "padding_mode")),
    "conv_grad_weight": (cc.conv_grad_weight, ("x", "weight_shape", "grad_output", "stride",
                                               "padding", "dilation", "groups",
                                               "padding_mode")),
    "transpose_output_size": (cc.transpose_output_size, ("in_size", "kernel_size", "stride",
                                                         "padding", "output_padding",
                                                         "dilation")),
    "colliding_input_sizes": (cc.colliding_input_sizes, ("out_size", "kernel_size", "stride",
                                                         "padding", "dilation")),
    "overlap_counts": (cc.overlap_counts, ("in_spatial", "kernel_size", "stride", "padding",
                                           "output_padding", "dilation")),
    "scatter_map": (cc.scatter_map, ("in_spatial", "kernel_size", "stride", "padding",
                                     "output_padding", "dilation", "steps")),
    "receptive_field": (cc.receptive_field, ("layers", "in_spatial", "ndim")),
    "stack_shapes": (cc.stack_shapes, ("in_spatial", "layers")),
}
GOOD = {
    "x": np.ones((1, 2, 5), np.float32), "weight": np.ones((2, 3, 3), np.float32),
    "bias": None, "stride": 2, "padding": 1, "output_padding": 1, "groups": 1, "dilation": 1,
    "output_size": None, "input_shape": (1, 3, 5), "grad_output": np.ones((1, 2, 3), np.float32),
    "weight_shape": (3, 2, 3), "padding_mode": "zeros", "in_size": 5, "kernel_size": 3,
    "out_size": 4, "in_spatial": (5, 4), "steps": None, "layers": [dict(kernel_size=3)] * 2,
    "ndim": None,
}


@pytest.mark.parametrize("name", sorted(FUZZED))
@settings(max_examples=40)
@given(data=st.data())
def test_fuzz_only_convError_escapes(name, data):
    fn, params = FUZZED[name]
    kwargs = {p: GOOD[p] for p in params}
    if name == "conv_grad_input":
        kwargs["weight"] = np.ones((2, 3, 3), np.float32)
    for p in data.draw(st.lists(st.sampled_from(params), min_size=1, max_size=3, unique=True)):
        is_array = p in ("x", "weight", "bias", "grad_output")
        kwargs[p] = data.draw(st.one_of(ARRAYS, HOSTILE) if is_array else HOSTILE)
    # a small budget: values that pass every rule must not make the fuzz allocate gigabytes
    with mock.patch.dict(os.environ, {"CONVCORE_MAX_BYTES": str(2**22)}), \
            contextlib.suppress(cc.ConvError):
        fn(**kwargs)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 9), s=st.integers(1, 5), d=st.integers(1, 4))
def test_max_transpose_padding_is_the_last_padding_with_an_output(n, k, s, d):
    p = cc.max_transpose_padding(n, k, stride=s, dilation=d)
    assert cc.transpose_output_size(n, k, stride=s, padding=p, dilation=d) >= 1
    assert F.conv_transpose1d(torch.ones(1, 1, n), torch.ones(1, 1, k), stride=s, padding=p,
                              dilation=d).shape[-1] >= 1  # PyTorch agrees it is allowed
    with pytest.raises(cc.ConvError, match="empty"):
        cc.transpose_output_size(n, k, stride=s, padding=p + 1, dilation=d)
