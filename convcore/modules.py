"""The documented module API: ``Conv1D``, ``Conv2D``, ``Conv3D`` and ``Sequential``.

So that the documents' code runs as written with only its import lines changed::

    from convcore import gpuarray, Variable
    from convcore.modules import Conv1D, Conv2D, Sequential

Weights follow the documents' layouts: Conv1D's ``W`` is ``(outmaps, inmaps/groups, 1, size)``
(a 1-D convolution is a 2-D one of height 1), Conv2D's ``(outmaps, inmaps/groups, size, size)``,
and the bias ``b`` is ``(1, outmaps, 1, 1)``, zeros.  Random weights come from NumPy's global
generator, so ``np.random.seed(...)`` makes them reproducible.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .algorithms import check_algorithm
from .backend import active_xp
from .budget import require
from .core import convnd
from .errors import ConvError, shown
from .params import as_shape, is_int, ntuple, positive_tuple
from .transposed import conv_transposend
from .variable import Variable

INIT_SCHEMES = ("xavier_uniform", "xavier_normal", "he", "gaussian", "uniform", "none")
FAN_MODES = ("in", "out", "avg")


class ModuleLookupError(ConvError, KeyError, IndexError):
    """No module or variable by that name or position (a KeyError/IndexError as containers do)."""

    __str__ = BaseException.__str__  # the message as written, not KeyError's repr of it


def _parse_initscheme(initscheme):
    """``(scheme, fan mode)`` from None, a scheme name, or a ``(scheme, mode)`` tuple."""
    if initscheme is None:
        return "xavier_uniform", "in"
    if isinstance(initscheme, str):
        scheme, mode = initscheme, "in"
    elif isinstance(initscheme, (tuple, list)) and len(initscheme) == 2:
        scheme, mode = initscheme
    else:
        raise ConvError(f"initscheme must be a scheme name or a (scheme, fan) tuple, got "
                        f"{shown(initscheme)}")
    if type(scheme) is not str or scheme not in INIT_SCHEMES:
        raise ConvError(f"initscheme must be one of {', '.join(INIT_SCHEMES)}, got "
                        f"{shown(scheme)}")
    if type(mode) is not str or mode not in FAN_MODES:
        raise ConvError(f"initscheme fan must be one of {', '.join(FAN_MODES)}, got "
                        f"{shown(mode)}")
    return scheme, mode


def _wscale(wscale, op):
    if (isinstance(wscale, bool) or not isinstance(wscale, numbers.Real)
            or not math.isfinite(wscale) or wscale < 0):
        raise ConvError(f"{op}: wscale must be a finite number >= 0, got {shown(wscale)}")
    return float(wscale)


def init_weights(shape, scheme, mode, groups, wscale):
    """Host weights of ``shape`` (C_out, C_in/groups, *kernel) drawn by ``scheme``.

    ``mode`` picks the fan f: in = (C_in/groups)*prod(kernel), out = C_out*prod(kernel),
    avg = their mean.  xavier_uniform: U(-sqrt(3/f), sqrt(3/f)); xavier_normal: N(0, sqrt(1/f));
    he: N(0, sqrt(2/f)); gaussian: N(0, wscale); uniform: U(-wscale, wscale); none: zeros.
    ``groups`` is accepted for the documented signature; the shape already holds C_in/groups.
    """
    op = "init_weights"
    shape = as_shape(shape, "shape", op, least=1)
    if len(shape) < 3:
        raise ConvError(f"{op}: shape must be (C_out, C_in/groups, *kernel), got {shape}")
    scheme, mode = _parse_initscheme((scheme, mode))
    wscale = _wscale(wscale, op)
    require(op, f"weights of shape {shape}", math.prod(shape) * 12)  # float64 draw, float32 copy
    receptive = math.prod(shape[2:])
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    fan = {"in": fan_in, "out": fan_out, "avg": (fan_in + fan_out) / 2}[mode]
    if scheme == "xavier_uniform":
        limit = math.sqrt(3.0 / fan)
        w = np.random.uniform(-limit, limit, shape)
    elif scheme == "xavier_normal":
        w = np.random.normal(0.0, math.sqrt(1.0 / fan), shape)
    elif scheme == "he":
        w = np.random.normal(0.0, math.sqrt(2.0 / fan), shape)
    elif scheme == "gaussian":
        w = np.random.normal(0.0, wscale, shape)
    elif scheme == "uniform":
        w = np.random.uniform(-wscale, wscale, shape)
    else:  # "none": PuzzleLib leaves memory uninitialised; we give deterministic zeros
        w = np.zeros(shape)
    return w.astype(np.float32)


class Module:
    """Base of the documented modules: named variables, ``.data`` holds the last output."""

    def __init__(self, name=None):
        self.name = name
        self.vars: dict[str, Variable | None] = {}
        self.data = None

    def setVar(self, name, var):  # noqa: N802 - the documented name
        if not isinstance(var, Variable):
            raise ConvError(f"setVar({shown(name)}): expected a Variable, got "
                            f"{type(var).__name__}")
        if type(name) is not str or name not in self.vars:
            raise ConvError(f"setVar: {type(self).__name__} has no variable {shown(name)}; "
                            f"it has {', '.join(self.vars)}")
        expected = self._var_shapes()[name]
        if tuple(var.shape) != expected:
            raise ConvError(f"setVar({name!r}): {type(self).__name__} expects shape {expected}, "
                            f"got {tuple(var.shape)}")
        self.vars[name] = var

    def getVar(self, name):  # noqa: N802 - the documented name
        if type(name) is not str or name not in self.vars:
            raise ModuleLookupError(f"getVar: {type(self).__name__} has no variable "
                                    f"{shown(name)}; it has {', '.join(self.vars)}")
        return self.vars[name]

    def _var_shapes(self):
        return {}

    def __call__(self, data):
        self.data = self.forward(data)
        return self.data


class ConvND(Module):
    """N-d convolution module in PuzzleLib's style; Conv1D/2D/3D fix the rank."""

    spatial = 2
    _DEFAULTS = dict(stride=1, pad=0, dilation=1, wscale=1.0, useBias=True, name=None,
                     initscheme=None, empty=False, groups=1, algorithm="auto")

    def __init__(self, inmaps, outmaps, size, stride=1, pad=0, dilation=1, wscale=1.0,
                 useBias=True, name=None, initscheme=None, empty=False, groups=1,
                 algorithm="auto"):
        op = type(self).__name__
        if name is not None and type(name) is not str:
            raise ConvError(f"{op}: name must be a string or None, got {shown(name)}")
        super().__init__(name)
        for pname, v in (("inmaps", inmaps), ("outmaps", outmaps)):
            if not is_int(v) or v < 1:
                raise ConvError(f"{op}: {pname} must be a positive integer, got {shown(v)}")
        if not is_int(groups) or groups < 1:
            raise ConvError(f"{op}: groups must be a positive integer, got {shown(groups)}")
        for pname, v in (("useBias", useBias), ("empty", empty)):
            if type(v) is not bool:
                raise ConvError(f"{op}: {pname} must be True or False, got {shown(v)}")
        _wscale(wscale, op)
        self.algorithm = check_algorithm(algorithm, op)
        if inmaps % groups or outmaps % groups:
            raise ConvError(f"{op}: inmaps and outmaps must be divisible by groups, got "
                            f"inmaps={inmaps}, outmaps={outmaps}, groups={groups}")
        self.inmaps, self.outmaps, self.groups = inmaps, outmaps, groups
        self.size = size
        self.stride, self.pad, self.dilation = stride, pad, dilation
        self.wscale, self.useBias, self.initscheme, self.empty = wscale, useBias, initscheme, empty
        kernel = positive_tuple(size, self.spatial, "size", op)
        # Checked now, so a bad value fails at construction rather than at the first call.
        self._stride = positive_tuple(stride, self.spatial, "stride", op)
        self._dilation = positive_tuple(dilation, self.spatial, "dilation", op)
        self._pad = ntuple(pad, self.spatial, "pad", op)
        if any(p < 0 for p in self._pad):
            raise ConvError(f"{op}: pad must be >= 0, got {shown(pad)}")
        self.kernel = kernel
        scheme, mode = _parse_initscheme(initscheme)
        require(op, f"weights of shape {self._w_layout()}", math.prod(self._w_layout()) * 12)
        self.vars = {"W": None, "b": None} if useBias else {"W": None}
        if not empty:
            xp = active_xp()
            w = init_weights(self._w_layout(), scheme, mode, groups, wscale)
            self.vars["W"] = Variable(xp.asarray(w))
            if useBias:
                self.vars["b"] = Variable(xp.zeros((1, outmaps, 1, 1), dtype=np.float32))

    def _w_layout(self):
        return (self.outmaps, self.inmaps // self.groups) + self.kernel

    def _var_shapes(self):
        return {"W": self._w_layout(), "b": (1, self.outmaps, 1, 1)}

    @property
    def W(self):  # noqa: N802 - the documented name
        return None if self.vars.get("W") is None else self.vars["W"].data

    @property
    def b(self):
        return None if self.vars.get("b") is None else self.vars["b"].data

    def _conv(self, data, w, stride, pad, dilation):
        if w is None:
            raise ConvError(f"{type(self).__name__}: weights are empty (empty=True); set them "
                            "with setVar('W', Variable(...)) first")
        bias = None if self.b is None else self.b.reshape(-1)
        return convnd(data, w, bias, stride=stride, padding=pad, dilation=dilation,
                      groups=self.groups, algorithm=self.algorithm)

    def forward(self, data):
        return self._conv(data, self.W, self._stride, self._pad, self._dilation)

    def __repr__(self):
        args = [repr(self.inmaps), repr(self.outmaps), repr(self.size)]
        for key, default in self._DEFAULTS.items():
            value = getattr(self, key)
            if value != default:
                args.append(f"{key}={value!r}")
        return f"{type(self).__name__}({', '.join(args)})"


class Conv1D(ConvND):
    """1-D convolution on ``(N, inmaps, L)``; ``W`` is ``(outmaps, inmaps/groups, 1, size)``."""

    spatial = 1

    def _w_layout(self):
        return (self.outmaps, self.inmaps // self.groups, 1) + self.kernel

    def forward(self, data):
        if getattr(data, "ndim", None) != 3:
            raise ConvError(f"Conv1D: input must be 3-D (N, inmaps, L), got shape "
                            f"{getattr(data, 'shape', None)}")
        out = self._conv(data[:, :, None, :], self.W, (1,) + self._stride, (0,) + self._pad,
                         (1,) + self._dilation)
        return out[:, :, 0, :]


class Conv2D(ConvND):
    """2-D convolution on ``(N, inmaps, H, W)``; ``W``: ``(outmaps, inmaps/groups, size, size)``."""

    spatial = 2


class Conv3D(ConvND):
    """3-D convolution on ``(N, inmaps, D, H, W)``; ``W`` is ``(outmaps, inmaps/groups, *size)``."""

    spatial = 3


class Sequential(Module):
    """Modules applied one after another; look them up by position or by ``name``."""

    def __init__(self, name=None):
        super().__init__(name)
        self.modules: list[Module] = []

    def append(self, module):
        if not isinstance(module, Module):
            raise ConvError(f"Sequential.append: expected a module (Conv1D, Conv2D, ...), got "
                            f"{shown(module)}")
        self.modules.append(module)
        return self

    def __getitem__(self, key):
        if is_int(key):
            if not -len(self.modules) <= key < len(self.modules):
                raise ModuleLookupError(f"Sequential index {key} out of range: it holds "
                                        f"{len(self.modules)} modules")
            return self.modules[key]
        for module in self.modules:
            if type(key) is str and module.name == key:
                return module
        names = [m.name for m in self.modules if m.name is not None]
        raise ModuleLookupError(f"Sequential has no module named {shown(key)}; names: {names}")

    def __len__(self):
        return len(self.modules)

    def __iter__(self):
        return iter(self.modules)

    def forward(self, data):
        for module in self.modules:
            data = module(data)
        return data

    def __repr__(self):
        inner = "".join(f"\n  {m!r}," for m in self.modules)
        return f"Sequential({inner}\n)" if inner else "Sequential()"


class DeconvND(ConvND):
    """N-d transposed convolution module ("deconvolution") in PuzzleLib's style.

    The transpose of the ``ConvND`` with the same ``size``, ``stride``, ``pad``, ``dilation``
    and ``groups``: ``W`` is ``(inmaps, outmaps/groups, *size)`` — the forward layer's weight
    read with its roles swapped — and the output length is
    ``(L − 1)·stride − 2·pad + dilation·(size − 1) + postpad + 1``.  ``postpad`` (PyTorch's
    ``output_padding``, smaller than stride or dilation) picks which of the ``stride`` input
    lengths of that forward layer to give back.
    """

    _DEFAULTS = {**ConvND._DEFAULTS, "postpad": 0}

    def __init__(self, inmaps, outmaps, size, stride=1, pad=0, dilation=1, wscale=1.0,
                 useBias=True, name=None, initscheme=None, empty=False, groups=1, postpad=0):
        super().__init__(inmaps, outmaps, size, stride, pad, dilation, wscale, useBias, name,
                         initscheme, empty, groups)
        op = type(self).__name__
        self.postpad = postpad
        self._postpad = ntuple(postpad, self.spatial, "postpad", op)
        for p, s, d in zip(self._postpad, self._stride, self._dilation):
            if p < 0 or (p >= s and p >= d):
                raise ConvError(f"{op}: postpad must be >= 0 and smaller than either stride or "
                                f"dilation on every axis, got postpad={postpad!r} with "
                                f"stride={stride!r}, dilation={dilation!r}")

    def _w_layout(self):
        return (self.inmaps, self.outmaps // self.groups) + self.kernel

    def _deconv(self, data, stride, pad, dilation, postpad):
        if self.W is None:
            raise ConvError(f"{type(self).__name__}: weights are empty (empty=True); set them "
                            "with setVar('W', Variable(...)) first")
        bias = None if self.b is None else self.b.reshape(-1)
        return conv_transposend(data, self.W, bias, stride=stride, padding=pad,
                                output_padding=postpad, dilation=dilation, groups=self.groups)

    def forward(self, data):
        return self._deconv(data, self._stride, self._pad, self._dilation, self._postpad)


class Deconv1D(DeconvND):
    """1-D transposed convolution on ``(N, inmaps, L)``; ``W`` is
    ``(inmaps, outmaps/groups, 1, size)`` (a 1-D layer is a 2-D one of height 1)."""

    spatial = 1

    def _w_layout(self):
        return (self.inmaps, self.outmaps // self.groups, 1) + self.kernel

    def forward(self, data):
        if getattr(data, "ndim", None) != 3:
            raise ConvError(f"Deconv1D: input must be 3-D (N, inmaps, L), got shape "
                            f"{getattr(data, 'shape', None)}")
        out = self._deconv(data[:, :, None, :], (1,) + self._stride, (0,) + self._pad,
                           (1,) + self._dilation, (0,) + self._postpad)
        return out[:, :, 0, :]


class Deconv2D(DeconvND):
    """2-D transposed convolution on ``(N, inmaps, H, W)``; ``W``:
    ``(inmaps, outmaps/groups, size, size)``."""

    spatial = 2


class Deconv3D(DeconvND):
    """3-D transposed convolution on ``(N, inmaps, D, H, W)``; ``W``:
    ``(inmaps, outmaps/groups, *size)``."""

    spatial = 3
