"""Every invalid input raises ConvError, naming the parameter and quoting what it received.

One table per family of mistakes.  Each row is a call and the phrases its message must contain
(the parameter's API name, the received value, and where useful the rule); ``torch`` says what
PyTorch 2.13 does with the same input: ``True`` = it rejects it too (asserted below: where
PyTorch rejects an input, so do we), ``False`` = it accepts it and we are deliberately stricter
(also asserted, so the table cannot drift), ``None`` = PyTorch has no such argument.
"""

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convcore as cc

CC_OPS = {"conv1d": cc.conv1d, "conv2d": cc.conv2d, "conv3d": cc.conv3d, "convnd": cc.convnd}
TORCH_OPS = {"conv1d": F.conv1d, "conv2d": F.conv2d, "conv3d": F.conv3d}
TORCH_DTYPES = {"complex64": torch.complex64}
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


@dataclass
class Case:
    id: str
    op: str
    x: tuple  # shapes; arrays are built as zeros of ``dtype`` (the values never matter here)
    w: tuple
    expect: list  # phrases the message must contain
    torch: bool | None
    b: tuple | None = None
    kw: dict = field(default_factory=dict)
    dtype: str = "float32"  # of x; ``w_dtype`` / ``b_dtype`` default to it
    w_dtype: str | None = None
    b_dtype: str | None = None

    def arrays(self):
        x = np.zeros(self.x, self.dtype)
        w = np.zeros(self.w, self.w_dtype or self.dtype)
        b = None if self.b is None else np.zeros(self.b, self.b_dtype or self.dtype)
        return x, w, b


def run_convcore(case):
    x, w, b = case.arrays()
    return CC_OPS[case.op](x, w, b, **case.kw)


def run_torch(case):
    """The same call in PyTorch: ``F.conv*d``, with ``F.pad`` for non-zero padding modes."""
    x, w, b = case.arrays()

    def tensor(a):
        if a is None:
            return None
        if a.dtype.name in TORCH_DTYPES:
            return torch.zeros(a.shape, dtype=TORCH_DTYPES[a.dtype.name])
        return torch.from_numpy(a)

    tx, tw, tb = tensor(x), tensor(w), tensor(b)
    kw = dict(case.kw)
    mode = kw.pop("padding_mode", "zeros")
    if mode != "zeros":
        if mode not in ("reflect", "replicate", "circular"):
            torch.nn.Conv1d(1, 1, 1, padding_mode=mode)  # PyTorch checks the name here
        padding = kw.pop("padding", 0)
        n = w.ndim - 2
        if padding == "same":
            total = [w.shape[2 + i] - 1 for i in range(n)]
            pairs = [(t // 2, t - t // 2) for t in total]
        elif isinstance(padding, int):
            pairs = [(padding, padding)] * n
        else:
            pairs = [p if isinstance(p, tuple) else (p, p) for p in padding]
        tx = F.pad(tx, [v for pair in reversed(pairs) for v in pair], mode=mode)
    return TORCH_OPS[case.op](tx, tw, tb, **kw)


def assert_conv_error(case):
    with pytest.raises(cc.ConvError) as info:
        run_convcore(case)
    message = str(info.value)
    for phrase in case.expect:
        assert phrase in message, f"{phrase!r} missing from: {message}"


X1, W1 = (1, 4, 8), (2, 4, 3)  # a legal conv1d
X2, W2 = (1, 4, 8, 8), (2, 4, 3, 3)  # a legal conv2d

GROUPS = [
    Case("zero", "conv1d", X1, W1, ["groups", "positive", "got 0"], True, kw=dict(groups=0)),
    Case("negative", "conv1d", X1, W1, ["groups", "positive", "got -1"], True,
         kw=dict(groups=-1)),
    Case("float", "conv1d", X1, W1, ["groups", "1.5"], True, kw=dict(groups=1.5)),
    Case("bool", "conv1d", X1, W1, ["groups", "True"], True, kw=dict(groups=True)),
    Case("in-not-divisible", "conv1d", X1, (3, 1, 3),
         ["in_channels", "divisible by groups", "4 input channels", "groups=3"], True,
         kw=dict(groups=3)),
    Case("out-not-divisible", "conv1d", X1, (6, 1, 3),
         ["out_channels", "divisible by groups", "6 output channels", "groups=4"], True,
         kw=dict(groups=4)),
]

CHANNELS = [
    Case("weight-in-channels", "conv1d", X1, (2, 3, 3),
         ["weight of shape (2, 3, 3)", "groups=1", "3 input channels", "4 channels"], True),
    Case("weight-in-channels-times-groups", "conv1d", X1, (2, 1, 3),
         ["groups=2", "1*2 = 2 input channels", "4 channels"], True, kw=dict(groups=2)),
    Case("unbatched", "conv1d", (4, 8), (2, 3, 3), ["3 input channels", "4 channels"], True),
    Case("bias-length", "conv1d", X1, W1, ["bias", "(2,)", "(3,)"], True, b=(3,)),
    Case("bias-module-layout", "conv1d", X1, W1, ["bias", "(1, 2, 1, 1)"], True, b=(1, 2, 1, 1)),
    Case("bias-scalar", "conv1d", X1, W1, ["bias", "shape ()"], True, b=()),
    Case("empty-weight", "conv1d", X1, (0, 4, 3), ["weight", "(0, 4, 3)"], True),
]

STRIDE_DILATION = [
    Case(f"{name}-{value!r}", op, x, w, [name, repr(value)], torch_rejects, kw={name: value})
    for name in ("stride", "dilation")
    for op, x, w, value, torch_rejects in [
        ("conv1d", X1, W1, 0, True), ("conv1d", X1, W1, -1, True),
        ("conv1d", X1, W1, 1.5, True), ("conv1d", X1, W1, True, True),
        ("conv1d", X1, W1, "2", True), ("conv2d", X2, W2, (1, 0), True),
        ("conv2d", X2, W2, (1, 1, 1), True),
        ("conv2d", X2, W2, (2,), False),  # PyTorch repeats a 1-tuple; we want one per axis
    ]
]

PADDING = [
    Case("negative", "conv1d", X1, W1, ["padding", ">= 0", "-1"], True, kw=dict(padding=-1)),
    Case("negative-per-axis", "conv2d", X2, W2, ["padding", "(1, -1)"], True,
         kw=dict(padding=(1, -1))),
    Case("negative-pair", "conv1d", X1, W1, ["padding", "((0, -1),)"], None,
         kw=dict(padding=((0, -1),))),
    Case("float", "conv1d", X1, W1, ["padding", "1.5"], True, kw=dict(padding=1.5)),
    Case("bool", "conv1d", X1, W1, ["padding", "True"], True, kw=dict(padding=True)),
    Case("unknown-string", "conv1d", X1, W1, ["padding", "'full'", "'valid'", "'same'"], True,
         kw=dict(padding="full")),
    Case("string-is-case-sensitive", "conv1d", X1, W1, ["padding", "'SAME'"], True,
         kw=dict(padding="SAME")),
    Case("wrong-length", "conv2d", X2, W2, ["padding", "(1, 1, 1)"], True,
         kw=dict(padding=(1, 1, 1))),
    Case("triple-not-pair", "conv2d", X2, W2, ["padding", "((1, 2, 3), (0, 0))"], True,
         kw=dict(padding=((1, 2, 3), (0, 0)))),
    Case("same-with-stride", "conv1d", X1, W1, ["padding='same'", "stride", "2"], True,
         kw=dict(padding="same", stride=2)),
    Case("same-with-stride-on-one-axis", "conv2d", X2, W2, ["padding='same'", "stride=(1, 2)"],
         True, kw=dict(padding="same", stride=(1, 2))),
]

PADDING_MODE = [
    Case("unknown", "conv1d", X1, W1, ["padding_mode", "'constant'", "'zeros'", "'circular'"],
         True, kw=dict(padding_mode="constant")),
    Case("misspelt", "conv1d", X1, W1, ["padding_mode", "'zero'"], True,
         kw=dict(padding_mode="zero")),
    Case("none", "conv1d", X1, W1, ["padding_mode", "None"], True, kw=dict(padding_mode=None)),
    Case("reflect-pad-equals-extent", "conv1d", (1, 4, 3), W1,
         ["padding_mode='reflect'", "padding < input extent", "extent 3", "(3, 3)"], True,
         kw=dict(padding=3, padding_mode="reflect")),
    Case("reflect-pad-high-side", "conv1d", (1, 4, 3), W1, ["reflect", "(0, 3)"], None,
         kw=dict(padding=((0, 3),), padding_mode="reflect")),
    Case("reflect-second-axis", "conv2d", (1, 4, 5, 3), W2, ["reflect", "axis 1", "(3, 3)"],
         True, kw=dict(padding=(1, 3), padding_mode="reflect")),
    Case("reflect-same-large-kernel", "conv1d", (1, 1, 3), (1, 1, 7), ["reflect", "(3, 3)"],
         True, kw=dict(padding="same", padding_mode="reflect")),
    Case("circular-pad-above-extent", "conv1d", (1, 4, 3), W1,
         ["padding_mode='circular'", "padding <= input extent", "extent 3", "(4, 4)"], True,
         kw=dict(padding=4, padding_mode="circular")),
]

EXTENT = [
    Case("kernel-longer-than-input", "conv1d", (1, 4, 3), (2, 4, 5),
         ["dilation*(kernel_size-1)+1", "= 5", "3+0+0 = 3", "output would be empty"], True),
    Case("dilated-kernel-longer", "conv1d", (1, 4, 5), W1,
         ["dilation*(kernel_size-1)+1", "3*(3-1)+1 = 7", "output would be empty"], True,
         kw=dict(dilation=3)),
    Case("second-axis", "conv2d", (1, 1, 5, 2), (1, 1, 1, 3),
         ["axis 1", "dilation*(kernel_size-1)+1", "output would be empty"], True),
    Case("zero-length-input", "conv1d", (1, 4, 0), (2, 4, 1), ["input", "(1, 4, 0)"], True),
]

NDIM = [
    Case("conv1d-1d-input", "conv1d", (8,), W1, ["input", "3-D", "(8,)"], True),
    Case("conv1d-4d-input", "conv1d", X2, W1, ["input", "(1, 4, 8, 8)"], True),
    Case("conv1d-2d-weight", "conv1d", X1, (2, 4), ["weight", "3-D", "(2, 4)"], True),
    Case("conv2d-3d-weight", "conv2d", X2, W1, ["weight", "4-D", "(2, 4, 3)"], True),
    Case("conv2d-5d-input", "conv2d", (1, 1, 4, 8, 8), W2, ["input", "(1, 1, 4, 8, 8)"], True),
    Case("conv3d-2d-input", "conv3d", (4, 8), (2, 4, 3, 3, 3), ["input", "5-D", "(4, 8)"], True),
    Case("conv3d-4d-weight", "conv3d", (1, 4, 5, 5, 5), W2, ["weight", "5-D", "(2, 4, 3, 3)"],
         True),
    Case("convnd-2d-weight", "convnd", X1, (2, 4), ["weight", "(2, 4)"], None),
    Case("convnd-input-too-long", "convnd", X2, W1, ["input", "(1, 4, 8, 8)"], None),
]

DTYPES = [
    Case("int64", "conv1d", X1, W1, ["input", "floating dtype", "int64"], False,
         dtype="int64"),
    Case("bool", "conv1d", X1, W1, ["input", "floating dtype", "bool"], True, dtype="bool"),
    Case("complex", "conv1d", X1, W1, ["input", "complex64"], False, dtype="complex64"),
    Case("int-weight", "conv1d", X1, W1, ["weight", "int64"], True, w_dtype="int64"),
    Case("int-bias", "conv1d", X1, W1, ["bias", "int64"], True, b=(2,), b_dtype="int64"),
    Case("float64-weight", "conv1d", X1, W1, ["weight", "float32", "float64"], True,
         w_dtype="float64"),
    Case("float64-bias", "conv1d", X1, W1, ["bias", "float32", "float64"], True, b=(2,),
         b_dtype="float64"),
    Case("float32-weight-on-float16", "conv1d", X1, W1, ["weight", "float16", "float32"], True,
         dtype="float16", w_dtype="float32"),
    Case("compute-mode", "conv1d", X1, W1, ["compute_mode", "'half'", "'float32'"], None,
         kw=dict(compute_mode="half")),
]

TABLES = {"groups": GROUPS, "channels": CHANNELS, "stride_dilation": STRIDE_DILATION,
          "padding": PADDING, "padding_mode": PADDING_MODE, "extent": EXTENT, "ndim": NDIM,
          "dtypes": DTYPES}


def ids(cases):
    return [c.id for c in cases]


@pytest.mark.parametrize("case", GROUPS, ids=ids(GROUPS))
def test_groups(case):
    assert_conv_error(case)


@pytest.mark.parametrize("case", CHANNELS, ids=ids(CHANNELS))
def test_channels_and_bias(case):
    assert_conv_error(case)


@pytest.mark.parametrize("case", STRIDE_DILATION, ids=ids(STRIDE_DILATION))
def test_stride_and_dilation(case):
    assert_conv_error(case)


@pytest.mark.parametrize("case", PADDING, ids=ids(PADDING))
def test_padding(case):
    assert_conv_error(case)


@pytest.mark.parametrize("case", PADDING_MODE, ids=ids(PADDING_MODE))
def test_padding_mode(case):
    assert_conv_error(case)


@pytest.mark.parametrize("case", EXTENT, ids=ids(EXTENT))
def test_empty_output(case):
    assert_conv_error(case)


@pytest.mark.parametrize("case", NDIM, ids=ids(NDIM))
def test_ndim(case):
    assert_conv_error(case)


@pytest.mark.parametrize("case", DTYPES, ids=ids(DTYPES))
def test_dtypes(case):
    assert_conv_error(case)


ALL = [(family, c) for family, cases in TABLES.items() for c in cases if c.torch is not None]


@pytest.mark.parametrize(("family", "case"), ALL, ids=[f"{f}-{c.id}" for f, c in ALL])
def test_where_pytorch_rejects_an_input_so_do_we(family, case):
    if case.torch:
        with pytest.raises((RuntimeError, ValueError, TypeError, NotImplementedError)):
            run_torch(case)
    else:  # PyTorch accepts it; we refuse on purpose (the row says why)
        run_torch(case)


LEGAL_EDGES = [  # the largest legal values next to the rejected ones above
    Case("reflect-pad-extent-minus-1", "conv1d", (1, 4, 3), W1, [], None,
         kw=dict(padding=2, padding_mode="reflect")),
    Case("circular-pad-equals-extent", "conv1d", (1, 4, 3), W1, [], None,
         kw=dict(padding=3, padding_mode="circular")),
    Case("replicate-pad-far-above-extent", "conv1d", (1, 4, 3), W1, [], None,
         kw=dict(padding=10, padding_mode="replicate")),
    Case("kernel-fits-padded-input", "conv1d", (1, 4, 3), (2, 4, 5), [], None,
         kw=dict(padding=1)),
    Case("same-even-kernel", "conv2d", X2, (2, 4, 2, 4), [], None, kw=dict(padding="same")),
    Case("float16", "conv1d", X1, W1, [], None, dtype="float16"),
]


@pytest.mark.parametrize("case", LEGAL_EDGES, ids=ids(LEGAL_EDGES))
def test_legal_edges_are_accepted_like_pytorch(case):
    out = run_convcore(case)
    assert out.shape == tuple(run_torch(case).shape)


OUTPUT_SIZE = [  # (kwargs of cc.output_size, phrases)
    (dict(in_size=3, kernel_size=5), ["dilation*(kernel_size-1)+1", "output would be empty"]),
    (dict(in_size=5, kernel_size=3, dilation=3), ["= 7", "output would be empty"]),
    (dict(in_size=5, kernel_size=3, stride=0), ["stride", "0"]),
    (dict(in_size=5, kernel_size=3, dilation=0), ["dilation", "0"]),
    (dict(in_size=5, kernel_size=3, padding=-1), ["padding", "-1"]),
    (dict(in_size=5, kernel_size=3, padding=(0, -1)), ["padding", "(0, -1)"]),
    (dict(in_size=5, kernel_size=3, padding="same"), ["padding", "'same'"]),
    (dict(in_size=0, kernel_size=1), ["in_size", "0"]),
    (dict(in_size=5.0, kernel_size=1), ["in_size", "5.0"]),
    (dict(in_size=5, kernel_size=0), ["kernel_size", "0"]),
]


@pytest.mark.parametrize(("kwargs", "expect"), OUTPUT_SIZE)
def test_output_size(kwargs, expect):
    with pytest.raises(cc.ConvError) as info:
        cc.output_size(**kwargs)
    for phrase in expect:
        assert phrase in str(info.value)


OUTPUT_SHAPE = [  # (args, kwargs of cc.output_shape, phrases)
    ((X1, (2, 3, 3)), {}, ["3 input channels", "4 channels"]),
    ((X1, W1), dict(groups=0), ["groups", "got 0"]),
    ((X1, W1), dict(stride=0), ["stride", "0"]),
    ((X1, W1), dict(padding="full"), ["padding", "'full'"]),
    (((1, 4, 2), W1), {}, ["output would be empty"]),
]


@pytest.mark.parametrize(("args", "kwargs", "expect"), OUTPUT_SHAPE)
def test_output_shape(args, kwargs, expect):
    with pytest.raises(cc.ConvError) as info:
        cc.output_shape(*args, **kwargs)
    for phrase in expect:
        assert phrase in str(info.value)


def test_conv_error_is_a_value_error():
    assert issubclass(cc.ConvError, ValueError)
    with pytest.raises(ValueError, match="groups"):
        cc.conv1d(np.zeros(X1, np.float32), np.zeros(W1, np.float32), groups=0)


def test_mixing_numpy_and_cupy():
    if "cupy" not in cc.available_backends():
        pytest.skip("CuPy cannot run here: " + str(cc.backend.cupy_unavailable_reason()))
    import cupy

    x = np.zeros(X1, np.float32)
    w = cupy.zeros(W1, cupy.float32)
    for args in ((x, w), (cupy.asarray(x), np.zeros(W1, np.float32)),
                 (cupy.asarray(x), w, np.zeros(2, np.float32))):
        with pytest.raises(cc.ConvError, match="NumPy and CuPy"):
            cc.conv1d(*args)
