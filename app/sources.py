"""Where the explorer's inputs and kernels come from: pure functions, no Streamlit.

Every input comes back as a float32 array without a batch axis: ``(C, L)`` for 1-D signals and
``(C, H, W)`` for 2-D maps (add the batch axis with ``x[None]``).  Kernels come back as
``(C_out, C_in/groups, *kernel)`` weights, except the presets, which are single ``(k,)`` or
``(kh, kw)`` kernels to be spread over the weight shape with :func:`expand_kernel`.

Whatever a user types or uploads is checked here, and every mistake raises :class:`SourceError`
with a message that names the thing, the rule and the value received, fit to show as is::

    >>> try:
    ...     parse_typed_values("1, 2; 3", ndim=1)
    ... except SourceError as e:
    ...     print(e)
    typed values: row 2 has 1 value, expected 2 (every row must have the same length)

Uploads are read without ever unpickling: ``.npy`` files go through ``np.load(...,
allow_pickle=False)`` after their header has been checked (object and structured dtypes are
refused before any data is read).
"""

from __future__ import annotations

import ast
import csv
import functools
import io
import math
import re
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from convcore.examples import custom_w_1d, custom_w_2d
from convcore.modules import FAN_MODES, INIT_SCHEMES, init_weights

ASSETS = Path(__file__).resolve().parent.parent / "assets"

MAX_UPLOAD_BYTES = 16_000_000   # a 1024x1024 RGB float32 .npy is 12.6 MB
MAX_SAMPLES_1D = 100_000        # per channel
MAX_SIDE_2D = 1024              # height and width
MAX_CHANNELS = 64
MAX_ELEMENTS = 4 * 1024 * 1024  # all channels together
MAX_IMAGE_PIXELS = 40_000_000   # refused before decoding (a 40 MP image is ~120 MB as RGB)
MAX_TYPED_CHARS = 2_000_000

UPLOAD_TYPES_1D = (".csv", ".npy")
UPLOAD_TYPES_2D = (".csv", ".npy", ".png", ".jpg", ".jpeg")
IMAGE_COLORS = ("auto", "gray", "rgb")


class SourceError(ValueError):
    """A typed value, an upload or a source parameter breaks a rule; the message says which."""


# ------------------------------------------------------------------------------------ checks

def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _check_array(x: np.ndarray, ndim: int, what: str) -> np.ndarray:
    """``x`` shaped ``(C, L)`` / ``(C, H, W)``: within the limits and finite, as float32."""
    if x.ndim != ndim + 1:
        raise SourceError(f"{what}: expected {ndim + 1} axes (C, {'L' if ndim == 1 else 'H, W'})"
                          f", got shape {x.shape}")
    if x.size == 0:
        raise SourceError(f"{what}: no values (shape {x.shape})")
    c = x.shape[0]
    if c > MAX_CHANNELS:
        raise SourceError(f"{what}: {c:,} channels, more than the {MAX_CHANNELS} limit "
                          f"(shape {x.shape})")
    if ndim == 1 and x.shape[1] > MAX_SAMPLES_1D:
        raise SourceError(f"{what}: {x.shape[1]:,} samples, more than the "
                          f"{MAX_SAMPLES_1D:,} limit for 1-D signals")
    if ndim == 2 and max(x.shape[1:]) > MAX_SIDE_2D:
        h, w = x.shape[1:]
        raise SourceError(f"{what}: {h}×{w} (height×width) is larger than the "
                          f"{MAX_SIDE_2D}×{MAX_SIDE_2D} limit for 2-D maps")
    if x.size > MAX_ELEMENTS:
        raise SourceError(f"{what}: {x.size:,} values in all (shape {x.shape}), more than the "
                          f"{MAX_ELEMENTS:,} limit")
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf here
        x = np.asarray(x, dtype=np.float32)
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if bad:
        raise SourceError(f"{what}: {_plural(bad, 'value')} {'is' if bad == 1 else 'are'} NaN "
                          f"or infinite (or beyond float32's range); only finite numbers are "
                          f"accepted")
    return np.ascontiguousarray(x)


def _check_ndim(ndim) -> int:
    if ndim not in (1, 2):
        raise SourceError(f"ndim must be 1 or 2, got {ndim!r}")
    return ndim


# ----------------------------------------------------------------------- text to numbers

_NUMBER_SPLIT = re.compile(r"[,\s]+")


def _to_float(token: str, where: str) -> float:
    try:
        v = float(token)
    except ValueError:
        raise SourceError(f"{where}: {token!r} is not a number") from None
    if not math.isfinite(v):
        raise SourceError(f"{where}: {token!r} is not a finite number")
    return v


def _blocks_to_array(blocks, ndim: int, what: str, row: str) -> np.ndarray:
    """Blocks of rows of numbers (each row ``(row number, [floats])``) to ``(C, ...)``.

    1-D: all rows of all blocks are channels.  2-D: each block is one channel, a matrix.
    ``what`` names the source in messages, ``row`` how its rows are called.
    """
    rows = [r for block in blocks for r in block]
    if not rows:
        raise SourceError(f"{what}: no numbers found")
    width = len(rows[0][1])
    for line, values in rows[1:]:
        if len(values) != width:
            raise SourceError(f"{row} {line} has {_plural(len(values), 'value')}, expected "
                              f"{width} (every row must have the same length)")
    if ndim == 1:
        return np.array([values for _, values in rows], dtype=np.float64)
    height = len(blocks[0])
    for i, block in enumerate(blocks[1:], start=2):
        if len(block) != height:
            raise SourceError(f"{what}: channel {i} (from {row.split()[-1]} {block[0][0]}) has "
                              f"{_plural(len(block), 'row')}, expected {height} like channel 1 "
                              "(channels are separated by blank lines)")
    return np.array([[values for _, values in block] for block in blocks], np.float64)


def _nested_literal(text: str, ndim: int, what: str) -> np.ndarray:
    """``[[1, 2], [3, 4]]``-style input: a nested list of numbers, 1 or 2 levels (1-D) or 2
    or 3 levels (2-D)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise SourceError(f"{what}: could not read {text[:40]!r}... as a nested list of "
                          "numbers like [[1, 2], [3, 4]]") from None
    try:
        arr = np.array(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise SourceError(f"{what}: the nested list must be rectangular and hold only numbers "
                          "(every row the same length)") from None
    if arr.ndim == ndim:
        arr = arr[None]
    if arr.ndim != ndim + 1:
        levels = "1 or 2" if ndim == 1 else "2 or 3"
        raise SourceError(f"{what}: a {ndim}-D input needs a list nested {levels} levels deep, "
                          f"got {arr.ndim} (shape {arr.shape})")
    return arr


def parse_typed_values(text: str, ndim: int) -> np.ndarray:
    """Numbers typed by hand as a ``(C, L)`` (``ndim=1``) or ``(C, H, W)`` (``ndim=2``) array.

    Numbers are separated by commas and/or spaces; rows by newlines or semicolons.  For 1-D
    every row is one channel; for 2-D the rows form a matrix and a blank line starts the next
    channel.  A Python/NumPy style nested list (``[[1, 2], [3, 4]]``) works too.

    Args:
        text: what the user typed.
        ndim: 1 or 2 spatial axes.

    Examples::

        >>> parse_typed_values("1, 2, 3", 1).tolist()
        [[1.0, 2.0, 3.0]]
        >>> parse_typed_values("1 2; 3 4", 2).shape
        (1, 2, 2)
    """
    _check_ndim(ndim)
    what = "typed values"
    if not isinstance(text, str):
        raise SourceError(f"{what}: expected text, got {type(text).__name__}")
    if len(text) > MAX_TYPED_CHARS:
        raise SourceError(f"{what}: {len(text):,} characters, more than the "
                          f"{MAX_TYPED_CHARS:,} limit; upload a file instead")
    stripped = text.strip()
    if not stripped:
        raise SourceError(f"{what}: nothing typed; enter numbers such as '1, 2, 3' "
                          "(rows separated by newlines or ';')")
    if stripped.startswith("["):
        return _check_array(_nested_literal(stripped, ndim, what), ndim, what)
    blocks, block = [], []
    row_no = 0
    for line in stripped.splitlines():
        if not line.strip():
            if block:
                blocks.append(block)
                block = []
            continue
        for part in line.split(";"):
            if not part.strip():
                continue
            row_no += 1
            tokens = [t for t in _NUMBER_SPLIT.split(part.strip()) if t]
            values = [_to_float(t, f"{what}: row {row_no}, item {j}")
                      for j, t in enumerate(tokens, start=1)]
            block.append((row_no, values))
    if block:
        blocks.append(block)
    return _check_array(_blocks_to_array(blocks, ndim, what, f"{what}: row"), ndim, what)


# ------------------------------------------------------------------------------ built-ins

def arange_input(channels: int, *spatial: int, batch: int | None = None) -> np.ndarray:
    """The seeds' input: ``np.arange(N*C*...).reshape(...)`` as float32.

    Returns ``(channels, *spatial)``, or ``(batch, channels, *spatial)`` when ``batch`` is
    given (counting on over the batch items, as the documents do).

    Examples::

        >>> arange_input(1, 10)[0, :4].tolist()
        [0.0, 1.0, 2.0, 3.0]
        >>> arange_input(1, 5, 5).shape
        (1, 5, 5)
    """
    dims = ((batch,) if batch is not None else ()) + (channels, *spatial)
    names = (("batch",) if batch is not None else ()) + ("channels",) + tuple(
        f"spatial size {i}" for i in range(1, len(spatial) + 1))
    if not spatial:
        raise SourceError("arange_input: give at least one spatial size, got none")
    for name, d in zip(names, dims):
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d < 1:
            raise SourceError(f"arange_input: {name} must be a positive integer, got {d!r}")
    return np.arange(math.prod(dims), dtype=np.float32).reshape(dims)


def random_input(shape, seed: int = 0) -> np.ndarray:
    """Standard normal float32 values of ``shape`` from ``np.random.default_rng(seed)``
    (the documents' ``np.random.randn``, reproducible)."""
    shape = tuple(int(s) for s in np.atleast_1d(shape))
    if not shape or any(s < 1 for s in shape):
        raise SourceError(f"random_input: every size must be a positive integer, got {shape}")
    if math.prod(shape) > MAX_ELEMENTS:
        raise SourceError(f"random_input: {math.prod(shape):,} values, more than the "
                          f"{MAX_ELEMENTS:,} limit")
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ------------------------------------------------------------------------------- samples

SAMPLE_SIGNALS = {  # name -> file in assets/ (made by assets/make_assets.py)
    "chirp": "chirp.csv",
    "step": "step.csv",
    "noisy sine": "noisy_sine.csv",
    "spike train": "spike_train.csv",
}
SAMPLE_IMAGES = {
    "checkerboard": "checkerboard.png",
    "letter F": "letter_f.png",
    "gradient blob": "gradient_blob.png",
    "rgb scene": "rgb_scene.png",
}


@functools.cache
def _read_sample(name: str) -> np.ndarray:
    if name in SAMPLE_SIGNALS:
        filename, ndim = SAMPLE_SIGNALS[name], 1
    else:
        filename, ndim = SAMPLE_IMAGES[name], 2
    path = ASSETS / filename
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SourceError(f"sample {name!r}: cannot read {path} ({e.strerror}); run "
                          "python assets/make_assets.py") from None
    arr, _ = load_upload(filename, data, ndim)
    arr.setflags(write=False)
    return arr


def load_sample(name: str) -> np.ndarray:
    """A sample signal ``(1, L)`` or image ``(C, H, W)`` (values in [0, 1]) by name.

    Examples::

        >>> load_sample("step").shape
        (1, 200)
        >>> load_sample("rgb scene").shape
        (3, 64, 64)
    """
    if name not in SAMPLE_SIGNALS and name not in SAMPLE_IMAGES:
        known = ", ".join(map(repr, [*SAMPLE_SIGNALS, *SAMPLE_IMAGES]))
        raise SourceError(f"unknown sample {name!r}, expected one of {known}")
    return _read_sample(name).copy()


def sample_signals() -> dict[str, Callable[[], np.ndarray]]:
    """1-D samples: name -> loader returning ``(1, L)`` float32."""
    return {name: functools.partial(load_sample, name) for name in SAMPLE_SIGNALS}


def sample_images() -> dict[str, Callable[[], np.ndarray]]:
    """2-D samples: name -> loader returning ``(C, H, W)`` float32 in [0, 1]."""
    return {name: functools.partial(load_sample, name) for name in SAMPLE_IMAGES}


# ------------------------------------------------------------------------------- uploads

def _format_mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n % 1_000_000 else f"{n // 1_000_000} MB"


def _read_csv(label: str, data: bytes, ndim: int) -> tuple[np.ndarray, list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SourceError(f"{label}: not UTF-8 text (byte 0x{data[e.start]:02x} at position "
                          f"{e.start}); expected numbers separated by commas") from None
    lines = text.splitlines()
    content = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not content:
        raise SourceError(f"{label}: no numbers found (the file is empty or only comments)")
    first = content[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    delim = max(counts, key=counts.get) if any(counts.values()) else None

    def split(line: str) -> list[str]:
        if delim is None:
            return line.split()
        fields = [f.strip() for f in next(csv.reader([line], delimiter=delim))]
        while fields and not fields[-1]:  # a trailing delimiter
            fields.pop()
        return fields

    notices: list[str] = []
    blocks, block = [], []
    header_checked = False
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            if block:
                blocks.append(block)
                block = []
            continue
        if line.lstrip().startswith("#"):
            continue
        fields = split(line)
        if not header_checked:
            header_checked = True
            if fields and not any(_is_number(f) for f in fields):
                notices.append(f"skipped the header row {line_no}: {line.strip()[:60]!r}")
                continue
        values = []
        for col, field in enumerate(fields, start=1):
            if not field:
                raise SourceError(f"{label}: CSV row {line_no}, column {col} is empty")
            values.append(_to_float(field, f"{label}: CSV row {line_no}, column {col}"))
        block.append((line_no, values))
    if block:
        blocks.append(block)
    arr = _blocks_to_array(blocks, ndim, f"{label}: CSV", f"{label}: CSV row")
    if ndim == 1:
        rows, cols = arr.shape
        if cols == 1:  # one column: one signal
            arr = arr.T
        elif rows > cols > 1:  # a tall table: samples go down, one channel per column
            arr = arr.T
            notices.append(f"read {cols} channels of {rows} samples, one channel per column")
        elif rows > 1:
            notices.append(f"read {rows} channels of {cols} samples, one channel per row")
    return arr, notices


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def _read_npy(label: str, data: bytes, ndim: int) -> tuple[np.ndarray, list[str]]:
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
    except ValueError:
        raise SourceError(f"{label}: not a .npy file (it does not start with the \\x93NUMPY "
                          "header that np.save writes)") from None
    if version not in _NPY_HEADER_READERS:
        raise SourceError(f"{label}: .npy format version {version[0]}.{version[1]} is not "
                          "supported, expected 1.0 or 2.0")
    try:
        shape, _, dtype = _NPY_HEADER_READERS[version](f)
    except ValueError as e:
        raise SourceError(f"{label}: damaged .npy header ({e})") from None
    # Decided from the header alone: nothing past it is read unless the dtype is plain numbers.
    if dtype.hasobject:
        raise SourceError(f"{label}: the array holds Python objects (dtype object); only "
                          "numeric arrays are accepted and pickled data is never loaded")
    if dtype.fields is not None or dtype.subdtype is not None:
        raise SourceError(f"{label}: structured dtype {dtype} is not accepted, expected a plain "
                          "numeric array (bool, int, uint or float)")
    if dtype.kind not in "biuf":
        raise SourceError(f"{label}: dtype {dtype} is not accepted, expected bool, int, uint "
                          "or float")
    if math.prod(shape) > MAX_ELEMENTS:
        raise SourceError(f"{label}: {math.prod(shape):,} values (shape {shape}), more than "
                          f"the {MAX_ELEMENTS:,} limit")
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, EOFError, OSError) as e:
        raise SourceError(f"{label}: truncated or damaged .npy data ({e})") from None
    return _shape_npy(label, np.asarray(arr, dtype=np.float64), ndim)


def _shape_npy(label: str, arr: np.ndarray, ndim: int) -> tuple[np.ndarray, list[str]]:
    notices = []
    if arr.ndim == ndim + 2:  # a batch
        if arr.shape[0] != 1:
            raise SourceError(f"{label}: a batch of {arr.shape[0]} items (shape {arr.shape}); "
                              "upload one item, shaped "
                              f"{'(C, L)' if ndim == 1 else '(C, H, W)'}")
        arr = arr[0]
        notices.append(f"dropped the batch axis of size 1 (shape {(1, *arr.shape)})")
    if ndim == 2 and arr.ndim == 3 and arr.shape[2] in (1, 3, 4) and min(arr.shape[:2]) > 4:
        notices.append(f"read shape {arr.shape} as height×width×channels (channels last)")
        arr = np.moveaxis(arr, 2, 0)
    if arr.ndim == ndim:
        arr = arr[None]
    if arr.ndim != ndim + 1:
        want = "(L,), (C, L) or (1, C, L)" if ndim == 1 else "(H, W), (C, H, W) or (1, C, H, W)"
        raise SourceError(f"{label}: shape {arr.shape} does not fit a {ndim}-D input, expected "
                          f"{want}")
    return arr, notices


_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601 luma, as Pillow's "L" conversion
_EXIF_ORIENTATION = 0x0112


def _read_image(label: str, data: bytes, max_side: int, color: str
                ) -> tuple[np.ndarray, list[str]]:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError):
        raise SourceError(f"{label}: not a readable PNG or JPEG image") from None
    notices = []
    with img:
        if img.format not in ("PNG", "JPEG"):
            raise SourceError(f"{label}: holds a {img.format} image, expected PNG or JPEG")
        w, h = img.size
        if w * h > MAX_IMAGE_PIXELS:
            raise SourceError(f"{label}: image is {h}×{w} (height×width) = {w * h / 1e6:.1f} "
                              f"megapixels, more than the {MAX_IMAGE_PIXELS / 1e6:g} megapixel "
                              "limit")
        if getattr(img, "n_frames", 1) > 1:
            notices.append(f"the image has {img.n_frames} frames; using the first")
        try:
            rotated = img.getexif().get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8)
        except (OSError, ValueError, SyntaxError):
            rotated = False
        if rotated:  # the size as shown, after exif_transpose below
            w, h = h, w
        scale = min(1.0, max_side / max(w, h))
        target = (max(1, round(w * scale)), max(1, round(h * scale)))
        if img.format == "JPEG" and scale < 1:  # decode at a reduced size straight away
            img.draft(img.mode, target[::-1] if rotated else target)
        try:
            img.load()
            img = ImageOps.exif_transpose(img)
        except (OSError, ValueError, SyntaxError) as e:
            raise SourceError(f"{label}: damaged image data ({e})") from None
        if img.mode == "P":
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        if img.mode in ("RGBA", "LA", "PA"):
            notices.append("dropped the alpha (transparency) channel")
        if img.mode.startswith("I;16"):
            img, peak = img.convert("F"), 65535.0
        elif img.mode in ("I", "F"):  # 32-bit: kept as the numbers they are
            img, peak = img.convert("F"), 1.0
        else:
            img, peak = img.convert("L" if img.mode in ("1", "L", "LA") else "RGB"), 255.0
        if img.size != target:
            img = img.resize(target, Image.Resampling.BOX)  # area average: no overshoot
        arr = np.asarray(img, dtype=np.float64) / peak
    maps = arr[None] if arr.ndim == 2 else np.moveaxis(arr, 2, 0)
    if color == "gray" and maps.shape[0] == 3:
        maps = np.tensordot(_LUMA, maps, axes=1)[None]
    elif color == "rgb" and maps.shape[0] == 1:
        maps = np.repeat(maps, 3, axis=0)
    if scale < 1:
        notices.append(f"image downscaled from {h}×{w} to {target[1]}×{target[0]} pixels "
                       f"(height×width) to fit the {max_side}-pixel limit")
    return maps, notices


def load_upload(name: str, data: bytes, ndim: int, max_side: int = MAX_SIDE_2D, *,
                color: str = "auto", max_bytes: int = MAX_UPLOAD_BYTES
                ) -> tuple[np.ndarray, list[str]]:
    """An uploaded file as a float32 ``(C, L)`` or ``(C, H, W)`` array, plus notices.

    Accepted: ``.csv`` (numbers; for 1-D a row, a column or a table whose longer side is time;
    for 2-D a matrix, blank lines between channels), ``.npy`` (numeric dtypes only, read with
    ``allow_pickle=False``; 1-D ``(L,)``, ``(C, L)``, ``(1, C, L)``; 2-D ``(H, W)``,
    ``(C, H, W)``, ``(1, C, H, W)`` or ``(H, W, 3)``) and, for 2-D, PNG/JPEG images (values
    scaled to [0, 1]; ``color`` "auto" keeps gray images gray and colour ones RGB, "gray"
    or "rgb" force one).  Images larger than ``max_side`` are area-downscaled (with a notice);
    numbers from CSV/.npy are never resampled and must fit the limits themselves.

    Args:
        name: the file name (its extension picks the reader).
        data: the file's bytes.
        ndim: 1 or 2 spatial axes.
        max_side: the longest image side kept, at most ``MAX_SIDE_2D``.

    Returns:
        ``(array, notices)``: notices are sentences for the user about what was changed.

    Raises:
        SourceError: for anything unreadable or beyond the limits.
    """
    _check_ndim(ndim)
    label = f"{name!r}"
    allowed = UPLOAD_TYPES_1D if ndim == 1 else UPLOAD_TYPES_2D
    suffix = Path(str(name)).suffix.lower()
    if suffix not in allowed:
        shown = f"'{suffix}'" if suffix else "(no extension)"
        extra = " (images are 2-D: use the 2-D explorer)" if suffix in UPLOAD_TYPES_2D else ""
        raise SourceError(f"unsupported file type {shown} for a {ndim}-D input{extra}, "
                          f"expected {', '.join(allowed)}")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SourceError(f"{label}: expected the file's bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise SourceError(f"{label}: file too large: {_format_mb(len(data))} > "
                          f"{_format_mb(max_bytes)} limit")
    if not data:
        raise SourceError(f"{label}: the file is empty (0 bytes)")
    if isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)) or not (
            1 <= max_side <= MAX_SIDE_2D):
        raise SourceError(f"max_side must be an integer from 1 to {MAX_SIDE_2D}, got "
                          f"{max_side!r}")
    if color not in IMAGE_COLORS:
        raise SourceError(f"color must be one of {', '.join(IMAGE_COLORS)}, got {color!r}")
    if suffix == ".csv":
        arr, notices = _read_csv(label, data, ndim)
    elif suffix == ".npy":
        arr, notices = _read_npy(label, data, ndim)
    else:
        arr, notices = _read_image(label, data, max_side, color)
    return _check_array(arr, ndim, label), notices


# ------------------------------------------------------------------------------- kernels

def _k(rows) -> np.ndarray:
    return np.array(rows, dtype=np.float32)


def kernel_presets(ndim: int) -> dict[str, np.ndarray]:
    """Classic kernels by name: ``(k,)`` arrays for 1-D, ``(kh, kw)`` for 2-D, float32.

    Applied as cross-correlation (no flip): "sobel x" is positive where values grow to the
    right, "sobel y" where they grow downwards, "edge [-1, 0, 1]" gives ``x[i+1] - x[i-1]``.
    Blurs sum to 1 (they keep the mean), edge and Laplacian kernels sum to 0 (flat input
    gives 0), sharpen sums to 1.

    Examples::

        >>> kernel_presets(2)["box blur 3x3"].sum().round(6)
        np.float32(1.0)
    """
    _check_ndim(ndim)
    if ndim == 1:
        return {
            "identity": _k([0, 1, 0]),
            "box (moving average)": _k([1, 1, 1]) / 3,
            "gaussian": _k([1, 4, 6, 4, 1]) / 16,
            "edge [-1, 0, 1]": _k([-1, 0, 1]),
            "second difference [1, -2, 1]": _k([1, -2, 1]),
        }
    binomial3, binomial5 = _k([1, 2, 1]), _k([1, 4, 6, 4, 1])
    sobel_x = _k([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    return {
        "identity": _k([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
        "box blur 3x3": np.full((3, 3), 1 / 9, dtype=np.float32),
        "gaussian 3x3": np.outer(binomial3, binomial3) / 16,
        "gaussian 5x5": np.outer(binomial5, binomial5) / 256,
        "sobel x": sobel_x,
        "sobel y": np.ascontiguousarray(sobel_x.T),
        "laplacian": _k([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
        "sharpen": _k([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    }


def expand_kernel(kernel, out_channels: int, in_per_group: int) -> np.ndarray:
    """One kernel copied into every ``(out, in)`` slot: ``(C_out, C_in/groups, *kernel)``.

    Applying a preset to every input map of every output map is what a user picking "Sobel x"
    for a 3-channel image expects (each output map then sums the edges of all its inputs).
    """
    k = np.asarray(kernel, dtype=np.float32)
    for pname, v in (("out_channels", out_channels), ("in_per_group", in_per_group)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise SourceError(f"expand_kernel: {pname} must be a positive integer, got {v!r}")
    return np.ascontiguousarray(np.broadcast_to(k, (out_channels, in_per_group, *k.shape)))


def custom_w(ndim: int, size: int) -> np.ndarray:
    """The seeds' ``customW`` as ``(2, 1, size)`` (1-D) or ``(2, 1, size, size)`` (2-D).

    1-D (seed 000): map 0 all ones, map 1 ``0, -1, ..., -(size-1)``.  2-D (seed 002): map 0
    the identity, map 1 the anti-diagonal ``-1, -2, ...``.
    """
    _check_ndim(ndim)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise SourceError(f"customW: size must be a positive integer, got {size!r}")
    if ndim == 1:
        return custom_w_1d(size).reshape(2, 1, size)
    return custom_w_2d(size)


_GLOBAL_RNG_LOCK = threading.Lock()


def random_kernel(shape, scheme: str = "xavier_uniform", seed: int = 0, groups: int = 1,
                  mode: str = "in", wscale: float = 1.0) -> np.ndarray:
    """Random weights ``(C_out, C_in/groups, *kernel)`` drawn as the documented layers do.

    Calls :func:`convcore.modules.init_weights` right after ``np.random.seed(seed)``, so the
    numbers equal those of ``np.random.seed(seed); Conv2D(..., initscheme=scheme).W``.  NumPy's
    global generator state is restored afterwards (other code drawing from it is unaffected).
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < 3 or any(s < 1 for s in shape):
        raise SourceError(f"random_kernel: shape must be (C_out, C_in/groups, *kernel) with "
                          f"positive sizes, got {shape}")
    if scheme not in INIT_SCHEMES:
        raise SourceError(f"random_kernel: scheme must be one of {', '.join(INIT_SCHEMES)}, "
                          f"got {scheme!r}")
    if mode not in FAN_MODES:
        raise SourceError(f"random_kernel: mode must be one of {', '.join(FAN_MODES)}, "
                          f"got {mode!r}")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise SourceError(f"random_kernel: groups must be a positive integer, got {groups!r}")
    if shape[0] % groups:
        raise SourceError(f"random_kernel: C_out must be divisible by groups, got "
                          f"C_out={shape[0]}, groups={groups}")
    if not 0 <= int(seed) < 2**32:
        raise SourceError(f"random_kernel: seed must be from 0 to 2**32 - 1, got {seed!r}")
    with _GLOBAL_RNG_LOCK:
        state = np.random.get_state()
        try:
            np.random.seed(int(seed))
            return init_weights(shape, scheme, mode, groups, wscale)
        finally:
            np.random.set_state(state)
