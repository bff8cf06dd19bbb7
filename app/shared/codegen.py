"""The code panel's programs: the explorer's configuration as PyTorch, as the documents'
module API and as convcore.  Pure functions of the settings and the model's arrays; the tests
execute every program and compare its output with the core's."""

from __future__ import annotations

import numpy as np

import convcore as cc
from app.shared.settings import Settings


def _literal(a: np.ndarray) -> str:
    return np.array2string(np.asarray(a, dtype=np.float32), separator=", ", threshold=10**7,
                           floatmode="unique", max_line_width=96).replace("\n", "\n    ")


LITERAL_LIMIT = 256


def _array_code(name: str, a: np.ndarray | None, s: Settings, what: str) -> str:
    if a is None:
        return f"{name} = None"
    if what == "input" and s.source == "arange":
        dims = ", ".join(str(d) for d in a.shape)
        return (f"{name} = np.arange({' * '.join(str(d) for d in a.shape)}, "
                f"dtype=np.float32).reshape({dims})")
    if what == "input" and s.source == "random":
        return (f"{name} = np.random.default_rng({s.seed}).standard_normal({a.shape})"
                ".astype(np.float32)")
    if a.size <= LITERAL_LIMIT:
        return f"{name} = np.array({_literal(a)}, dtype=np.float32)"
    return f'{name} = np.load("{what}.npy")  # {a.shape}: the Export tab saves it'


def _tuple_arg(t) -> str:
    t = tuple(int(v) for v in t)
    return str(t[0]) if len(t) == 1 else str(t)


def _pairs(s: Settings, x, w) -> tuple | str:
    """The padding the program passes: ``"same"``, or explicit (low, high) pairs (SAME's from
    ``cc.tf_same_pads`` on the arrays' shapes)."""
    if s.tf_same:
        return cc.tf_same_pads(x.shape[2:], w.shape[2:], s.stride, s.dilation)
    return s.padding


def _symmetric(pairs) -> bool:
    return all(lo == hi for lo, hi in pairs)


def _same_comment(s: Settings, x, w) -> list[str]:
    if not s.tf_same:
        return []
    why = (" (PyTorch refuses padding='same' with a stride > 1)" if s.pad_form == "same"
           else "")
    return [f"# TensorFlow/JAX padding=\"SAME\"{why}: out = ceil(n / stride), pads "
            f"{tuple(_pairs(s, x, w))}", "# (low, high) per axis, the odd pad on the high side"]


def code_convcore(s: Settings, x, w, b) -> str:
    fn = "conv1d" if s.ndim == 1 else "conv2d"
    pairs = _pairs(s, x, w)
    lines = ["import numpy as np", "import convcore as cc", "",
             _array_code("x", x, s, "input"), _array_code("w", w, s, "weight"),
             _array_code("b", b, s, "bias"), ""]
    if s.tf_same:
        lines += [*_same_comment(s, x, w), f"pads = cc.tf_same_pads(x.shape[2:], w.shape[2:], "
                  f"stride={_tuple_arg(s.stride)}, dilation={_tuple_arg(s.dilation)})"]
        pad = "pads"
    elif isinstance(pairs, str):
        pad = '"same"'
    else:
        pad = _tuple_arg([lo for lo, _ in pairs]) if s.pad_form == "axis" else str(pairs)
    lines += [f"out = cc.{fn}(x, w, b, stride={_tuple_arg(s.stride)}, padding={pad}, "
              f"dilation={_tuple_arg(s.dilation)}, groups={s.groups}, "
              f"padding_mode={s.mode!r})", "print(out)"]
    return "\n".join(lines)


_TORCH_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
                    "circular": "circular"}


def code_pytorch(s: Settings, x, w, b) -> str:
    cls = "Conv1d" if s.ndim == 1 else "Conv2d"
    lines = ["import numpy as np", "import torch", "import torch.nn.functional as F", "",
             _array_code("x", x, s, "input"), _array_code("w", w, s, "weight"),
             _array_code("b", b, s, "bias"), "", "inp = torch.from_numpy(x)"]
    pairs = _pairs(s, x, w)
    lines[-1:-1] = _same_comment(s, x, w)
    if not isinstance(pairs, str) and not _symmetric(pairs):
        # nn.ConvNd pads both sides alike: pad first (F.pad lists the last axis first).
        order = [v for lo, hi in reversed(pairs) for v in (lo, hi)]
        lines.append(f"inp = F.pad(inp, {tuple(order)}, mode={_TORCH_PAD_MODES[s.mode]!r})")
        padding, mode = "0", "zeros"
    else:
        padding = '"same"' if isinstance(pairs, str) else _tuple_arg([lo for lo, _ in pairs])
        mode = s.mode
    lines += [
        f"conv = torch.nn.{cls}(in_channels={x.shape[1]}, out_channels={s.outmaps}, "
        f"kernel_size={_tuple_arg(w.shape[2:])}, stride={_tuple_arg(s.stride)}, "
        f"padding={padding}, dilation={_tuple_arg(s.dilation)}, groups={s.groups}, "
        f"bias={b is not None}, padding_mode={mode!r})",
        "with torch.no_grad():",
        "    conv.weight.copy_(torch.from_numpy(w))",
    ]
    if b is not None:
        lines.append("    conv.bias.copy_(torch.from_numpy(b))")
    lines += ["    out = conv(inp)", "print(out)"]
    return "\n".join(lines)


def code_tensorflow_jax(s: Settings, x, w, b) -> str:
    """The layer with TensorFlow's and JAX's own ``padding="SAME"`` (the code panel shows it
    beside PyTorch's spelling when the padding is same or SAME).  Both pad with zeros; other
    padding modes pad first (``jnp.pad``/``tf.pad``) and use ``"VALID"``."""
    n = s.ndim
    spatial = "H" if n == 1 else "HW"
    bias_shape = "[None, :, None]" if n == 1 else "[None, :, None, None]"
    zeros = s.mode == "zeros"
    mode_np = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}.get(s.mode)
    pairs = [list(p) for p in cc.tf_same_pads(x.shape[2:], w.shape[2:], s.stride, s.dilation)]
    jax = ["import numpy as np", "import jax.numpy as jnp", "from jax import lax", "",
           _array_code("x", x, s, "input"), _array_code("w", w, s, "weight"),
           _array_code("b", b, s, "bias"), ""]
    if zeros:
        jax.append('padding = "SAME"  # JAX works out the pads: out = ceil(n / stride)')
        arg = "x"
    else:
        jax += [f"# SAME's pads {pairs}, filled by {s.mode!r} padding first",
                f"xp = jnp.pad(x, [(0, 0), (0, 0)] + {pairs}, mode={mode_np!r})",
                'padding = "VALID"']
        arg = "xp"
    jax += [f"out = lax.conv_general_dilated({arg}, w, window_strides={tuple(s.stride)}, "
            f"padding=padding, rhs_dilation={tuple(s.dilation)}, "
            f"feature_group_count={s.groups},",
            f'                               dimension_numbers=("NC{spatial}", "OI{spatial}", '
            f'"NC{spatial}"))']
    if b is not None:
        jax.append(f"out = out + b{bias_shape}")
    jax.append("print(out)")
    axes = ", ".join(str(v) for v in range(2, n + 2))
    word = '"SAME"' if zeros else '"VALID"'
    tf = ["", "# TensorFlow keeps channels last: (N, ..., C) input, (..., I, O) kernel",
          "import tensorflow as tf", "", f"xt = tf.transpose({arg}, (0, {axes}, 1))",
          f"wt = tf.transpose(w, ({axes}, 1, 0))",
          f"yt = tf.nn.convolution(xt, wt, strides={tuple(s.stride)}, padding={word}, "
          f"dilations={tuple(s.dilation)})"
          + ("  # groups: read from the kernel's input depth" if s.groups > 1 else ""),
          f"out_tf = tf.transpose(yt, (0, {n + 1}, {', '.join(map(str, range(1, n + 1)))}))"
          + (f" + b{bias_shape}" if b is not None else ""),
          "print(out_tf)"]
    return "\n".join(jax + ["# ----"] + tf)


def code_module_api(s: Settings, x, w, b) -> str:
    """The documents' module API (PuzzleLib style), as convcore.modules runs it."""
    cls = "Conv1D" if s.ndim == 1 else "Conv2D"
    if s.pad_form != "axis" or s.mode != "zeros":
        return ("# The documented module API pads both sides alike with zeros only:\n"
                "# per-side padding, 'same' and padding modes are not expressible with\n"
                f"# {cls}(...). The functional call does it:\n\n" + code_convcore(s, x, w, b))
    args = (f"inmaps={x.shape[1]}, outmaps={s.outmaps}, size={_tuple_arg(w.shape[2:])}, "
            f"stride={_tuple_arg(s.stride)}, pad={_tuple_arg([p[0] for p in s.pad])}, "
            f"dilation={_tuple_arg(s.dilation)}, groups={s.groups}, useBias={b is not None}")
    return _module_program(s, x, w, b, cls, "conv", args, "(C_out, C_in/g, 1, size)")


def _module_program(s: Settings, x, w, b, cls: str, name: str, args: str, layout: str) -> str:
    """A module-API program: make the layer, set its weights (PuzzleLib's 1-D layout has an
    extra axis), run it on x and print the result."""
    w_doc = "w" if s.ndim == 2 else f"w.reshape({w.shape[0]}, {w.shape[1]}, 1, {w.shape[2]})"
    lines = [
        "import numpy as np", "from convcore import Variable, gpuarray",
        f"from convcore.modules import {cls}", "",
        _array_code("x", x, s, "input"), _array_code("w", w, s, "weight"),
        _array_code("b", b, s, "bias"), "",
        "data = gpuarray.to_gpu(x)",
        f"{name} = {cls}({args})",
        f'{name}.setVar("W", Variable(gpuarray.to_gpu({w_doc})))'
        + (f"  # PuzzleLib layout {layout}" if s.ndim == 1 else ""),
    ]
    if b is not None:
        lines.append(f'{name}.setVar("b", Variable(gpuarray.to_gpu(b.reshape(1, -1, 1, 1))))')
    lines += [f"{name}(data)", f"print({name}.data)"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ transposed

def _transposed_args(s: Settings) -> str:
    return (f"stride={_tuple_arg(s.stride)}, padding={_tuple_arg([p[0] for p in s.pad])}, "
            f"output_padding={_tuple_arg(s.output_padding)}, groups={s.groups}, "
            f"dilation={_tuple_arg(s.dilation)}")


def code_transposed_convcore(s: Settings, x, w, b) -> str:
    fn = "conv_transpose1d" if s.ndim == 1 else "conv_transpose2d"
    return "\n".join([
        "import numpy as np", "import convcore as cc", "",
        _array_code("x", x, s, "input"), _array_code("w", w, s, "weight"),
        _array_code("b", b, s, "bias"), "",
        f"out = cc.{fn}(x, w, b, {_transposed_args(s)})",
        "print(out)",
    ])


def code_transposed_pytorch(s: Settings, x, w, b) -> str:
    """The layer as torch.nn.ConvTranspose, and as the gradient of the forward layer."""
    n = s.ndim
    return "\n".join([
        "import numpy as np", "import torch", "", _array_code("x", x, s, "input"),
        _array_code("w", w, s, "weight"), _array_code("b", b, s, "bias"), "",
        f"conv = torch.nn.ConvTranspose{n}d(in_channels={x.shape[1]}, "
        f"out_channels={s.outmaps}, kernel_size={_tuple_arg(w.shape[2:])}, "
        f"{_transposed_args(s)}, bias={b is not None})",
        "with torch.no_grad():",
        "    conv.weight.copy_(torch.from_numpy(w))",
        *(["    conv.bias.copy_(torch.from_numpy(b))"] if b is not None else []),
        "    out = conv(torch.from_numpy(x))",
        "print(out)", "",
        "# the same numbers: the gradient of the forward layer's input, given x as the",
        "# gradient of its output (bias aside)",
        f"grad = torch.nn.grad.conv{n}d_input(out.shape[:1] + ({s.outmaps},) + out.shape[2:], "
        f"torch.from_numpy(w), torch.from_numpy(x), stride={_tuple_arg(s.stride)}, "
        f"padding={_tuple_arg([p[0] for p in s.pad])}, dilation={_tuple_arg(s.dilation)}, "
        f"groups={s.groups})",
        "print(grad)",
    ])


def code_transposed_module_api(s: Settings, x, w, b) -> str:
    """The documents' module API: ``Deconv1D``/``Deconv2D`` (PuzzleLib style)."""
    cls = "Deconv1D" if s.ndim == 1 else "Deconv2D"
    args = (f"inmaps={x.shape[1]}, outmaps={s.outmaps}, size={_tuple_arg(w.shape[2:])}, "
            f"stride={_tuple_arg(s.stride)}, pad={_tuple_arg([p[0] for p in s.pad])}, "
            f"dilation={_tuple_arg(s.dilation)}, useBias={b is not None}, groups={s.groups}, "
            f"postpad={_tuple_arg(s.output_padding)}")
    return _module_program(s, x, w, b, cls, "deconv", args, "(C_in, C_out/g, 1, size)")
