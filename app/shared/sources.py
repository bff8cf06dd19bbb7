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

Budgets come before work.  An upload's size is checked before its first byte is parsed; text
(typed or CSV) is read a line at a time into one float64 buffer, and a row, a field or the
whole table is refused as soon as it breaks a limit, so no input ever becomes millions of
Python objects; ``.npy`` files and images are judged by their headers (shape and dtype, width
and height) before their data is read or decoded.  Peak memory for one upload stays within
10× its size for text and arrays, and within :data:`IMAGE_DECODE_BYTES` for an image.
``.npy`` files are never unpickled: ``np.load(..., allow_pickle=False)`` after the header has
refused object and structured dtypes.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import re
import struct
import threading
import tokenize
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, JpegImagePlugin, PngImagePlugin

from convcore.examples import custom_w_1d, custom_w_2d
from convcore.modules import FAN_MODES, INIT_SCHEMES, init_weights

ASSETS = Path(__file__).resolve().parents[2] / "assets"

MAX_UPLOAD_BYTES = 16_000_000   # a 1024x1024 RGB float32 .npy is 12.6 MB
MAX_SAMPLES_1D = 100_000        # per channel
MAX_SIDE_2D = 1024              # height and width
MAX_CHANNELS = 64
MAX_ELEMENTS = 4 * 1024 * 1024  # all channels together
MAX_TYPED_CHARS = 2_000_000
MAX_ROW_VALUES = MAX_SAMPLES_1D  # the longest row of text any input can have (a 1-D channel)
MAX_LINE_CHARS = 4_000_000      # 100,000 numbers of up to 39 characters and their commas
MAX_FIELD_CHARS = 1_000         # one CSV field: a number, or a word of a header row
MAX_IMAGE_PIXELS = 24_000_000   # width × height from the header, refused before decoding
IMAGE_DECODE_BYTES = 128_000_000  # what decoding one image may hold, from its header's mode

UPLOAD_TYPES_1D = (".csv", ".npy")
UPLOAD_TYPES_2D = (".csv", ".npy", ".png", ".jpg", ".jpeg")
IMAGE_COLORS = ("auto", "gray", "rgb")

# Pillow's own guard against decompression bombs uses the app's limit, for every image this
# process opens (Pillow warns above it and raises above twice it).
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS


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
        x = np.ascontiguousarray(x, dtype=np.float32)
    finite = np.isfinite(x)
    if not finite.all():
        bad = int(x.size - np.count_nonzero(finite))
        raise SourceError(f"{what}: {_plural(bad, 'value')} {'is' if bad == 1 else 'are'} NaN "
                          f"or infinite (or beyond float32's range); only finite numbers are "
                          f"accepted")
    return x


def _check_ndim(ndim) -> int:
    if ndim not in (1, 2):
        raise SourceError(f"ndim must be 1 or 2, got {ndim!r}")
    return ndim


# ----------------------------------------------------------------------- text to numbers

_NUMBER_SPLIT = re.compile(r"[,\s]+")
_NON_BLANK = re.compile(r"\S+")
_ROW_PART = re.compile(r"[^;]+")
_NESTED_TOKEN = re.compile(r"[\[\]()]|[^\[\]()]+")
_CLOSING = {"[": "]", "(": ")"}


def _to_float(token: str, where: str) -> float:
    try:
        v = float(token)
    except ValueError:
        shown = repr(token) if len(token) <= 40 else f"{token[:40]!r}... ({len(token):,} chars)"
        raise SourceError(f"{where}: {shown} is not a number") from None
    if not math.isfinite(v):
        raise SourceError(f"{where}: {token!r} is not a finite number")
    return v


def _to_floats(fields: list[str], where: str) -> list[float]:
    """Every field as a finite float; the message names the first column that is not one."""
    try:
        values = list(map(float, fields))
    except ValueError:
        values = None
    if values is not None and math.isfinite(sum(values)):  # one C loop for the common case
        return values
    for col, field in enumerate(fields, start=1):
        if not field.strip():
            raise SourceError(f"{where}, column {col} is empty")
        _to_float(field, f"{where}, column {col}")
    return values  # all finite: only their sum overflowed


def _split_capped(text: str, sep: str | re.Pattern | None, where: str, ndim: int
                  ) -> list[str]:
    """``text`` split at ``sep`` (None: whitespace) into at most ``MAX_ROW_VALUES`` fields,
    without ever building a longer list."""
    if isinstance(sep, re.Pattern):
        parts = sep.split(text, maxsplit=MAX_ROW_VALUES)
    else:
        parts = text.split(sep, MAX_ROW_VALUES)
    if len(parts) <= MAX_ROW_VALUES or not parts[-1].strip(" \t\r,;"):
        return parts
    if isinstance(sep, str):
        n = text.count(sep) + 1
    else:  # counted without a list: this row may hold a million numbers
        n = sum(1 for _ in (sep or _NON_BLANK).finditer(text)) + (sep is not None)
    if ndim == 1:
        raise SourceError(f"{where}: {n:,} samples, more than the {MAX_SAMPLES_1D:,} limit for "
                          "1-D signals")
    raise SourceError(f"{where}: {n:,} values, more than the {MAX_SIDE_2D} a row of a 2-D map "
                      "may hold")


class _Rows:
    """Rows of numbers gathered into one flat float64 buffer, refused as soon as they break a
    limit.  Blank lines close a block: the channels of a 2-D input.

    Args:
        what: names the source in messages (``"typed values"``, ``"'a.csv': CSV"``).
        row: how a row is called in messages (``"typed values: row"``).
        ndim: 1 or 2; sets the most rows any valid input can have.
        rule: why all rows must be equally long, for the message when one is not.
    """

    def __init__(self, what: str, row: str, ndim: int,
                 rule: str = "every row must have the same length"):
        self.what, self.row, self.ndim, self.rule = what, row, ndim, rule
        # 1-D: more rows than samples is too long whichever way the table is read
        self.max_rows = MAX_SAMPLES_1D if ndim == 1 else MAX_CHANNELS * MAX_SIDE_2D
        self.values = array("d")
        self.width: int | None = None
        self.rows = 0
        self.blocks: list[tuple[int, int]] = []  # (first row's number, rows) of closed blocks
        self.open_block: tuple[int, int] | None = None

    def add(self, row_no: int, values: list[float] | np.ndarray) -> None:
        if self.width is None:
            self.width = len(values)
        elif len(values) != self.width:
            raise SourceError(f"{self.row} {row_no} has {_plural(len(values), 'value')}, "
                              f"expected {self.width} ({self.rule})")
        self.rows += 1
        stopped = f"(stopped reading at {self.row.split()[-1]} {row_no:,})"
        if self.rows > self.max_rows and self.ndim == 1:
            raise SourceError(f"{self.what}: at least {self.rows:,} samples, more than the "
                              f"{MAX_SAMPLES_1D:,} limit for 1-D signals {stopped}")
        if self.rows > self.max_rows:
            raise SourceError(f"{self.what}: more than {self.max_rows:,} rows, the most "
                              f"{MAX_CHANNELS} channels of {MAX_SIDE_2D} rows can have {stopped}")
        if len(self.values) + len(values) > MAX_ELEMENTS:
            raise SourceError(f"{self.what}: more than {MAX_ELEMENTS:,} values in all, the "
                              f"limit for all channels together {stopped}")
        if isinstance(values, np.ndarray):
            self.values.frombytes(memoryview(values).cast("B"))
        else:
            self.values.extend(values)
        first, n = self.open_block or (row_no, 0)
        self.open_block = (first, n + 1)

    def end_block(self) -> None:
        if self.open_block:
            self.blocks.append(self.open_block)
            self.open_block = None

    def array(self, axes: int) -> np.ndarray:
        """``(width,)``, ``(rows, width)`` or ``(blocks, height, width)`` for 1, 2, 3 axes."""
        self.end_block()
        if not self.rows:
            raise SourceError(f"{self.what}: no numbers found")
        flat = np.frombuffer(self.values, dtype=np.float64)
        if axes < 3:
            return flat.reshape((self.rows, self.width)[2 - axes:])
        height = self.blocks[0][1]
        for i, (first, n) in enumerate(self.blocks[1:], start=2):
            if n != height:
                raise SourceError(f"{self.what}: channel {i} (from {self.row.split()[-1]} "
                                  f"{first}) has {_plural(n, 'row')}, expected {height} like "
                                  "channel 1 (channels are separated by blank lines)")
        return flat.reshape(len(self.blocks), height, self.width)


def _nested_list(text: str, ndim: int, what: str) -> np.ndarray:
    """``[[1, 2], [3, 4]]``-style input: a nested list of numbers, 1 or 2 levels (1-D) or 2
    or 3 levels (2-D).  Read bracket by bracket: the text inside each innermost list is one
    row, split and converted like a typed row, into a :class:`_Rows`."""
    rows = _Rows(what, f"{what}: row", ndim, rule="a nested list must be rectangular")
    unreadable = SourceError(f"{what}: could not read {text[:40]!r}... as a nested list of "
                             "numbers like [[1, 2], [3, 4]]")
    not_rectangular = (f"{what}: the nested list must be rectangular and hold only numbers, "
                       "nested at most 3 levels deep")
    open_brackets: list[str] = []
    leaf_depth = None  # how deep the lists that hold the numbers are
    numbers = None  # the text of the numbers in the list open now
    for m in _NESTED_TOKEN.finditer(text):
        token = m.group()
        if token in _CLOSING:
            if numbers is not None or len(open_brackets) == 3:
                raise SourceError(f"{not_rectangular} (at character {m.start() + 1:,})")
            open_brackets.append(token)
        elif token in ")]":
            if not open_brackets or _CLOSING[open_brackets.pop()] != token:
                raise unreadable
            depth = len(open_brackets) + 1
            if numbers is not None:
                if leaf_depth is None:
                    leaf_depth = depth
                elif depth != leaf_depth:
                    raise SourceError(f"{not_rectangular}; row {rows.rows + 1:,} is nested "
                                      f"{depth} levels deep, the rows before it {leaf_depth}")
                fields = _split_capped(numbers, _NUMBER_SPLIT, f"{what}: row {rows.rows + 1:,}",
                                       ndim)
                where = (f"{what}: the nested list must be rectangular and hold only numbers; "
                         f"row {rows.rows + 1:,}")
                rows.add(rows.rows + 1, _to_floats(fields, where))
                numbers = None
            elif leaf_depth is None or depth == leaf_depth:
                raise SourceError(f"{what}: the nested list holds an empty list")
            elif depth == leaf_depth - 1:
                rows.end_block()
        elif token.strip(" \t\r\n,"):  # numbers, not just the commas between lists
            if not open_brackets:
                raise unreadable
            numbers = token.strip(" \t\r\n,")
    if open_brackets or leaf_depth is None:
        raise unreadable
    arr = rows.array(leaf_depth)
    if arr.ndim == ndim:
        arr = arr[None]
    elif arr.ndim != ndim + 1:
        levels = "1 or 2" if ndim == 1 else "2 or 3"
        raise SourceError(f"{what}: a {ndim}-D input needs a list nested {levels} levels deep, "
                          f"got {arr.ndim} (shape {arr.shape})")
    return arr


def _typed_rows(text: str, ndim: int, what: str) -> np.ndarray:
    rows = _Rows(what, f"{what}: row", ndim)
    row_no = 0
    for line in io.StringIO(text):
        if not line.strip():
            rows.end_block()
            continue
        for part in _ROW_PART.finditer(line):
            part = part.group().strip()
            if not part:
                continue
            row_no += 1
            where = f"{what}: row {row_no}"
            tokens = [t for t in _split_capped(part, _NUMBER_SPLIT, where, ndim) if t]
            values = [_to_float(t, f"{where}, item {j}") for j, t in enumerate(tokens, start=1)]
            rows.add(row_no, values)
    return rows.array(2 if ndim == 1 else 3)


def parse_typed_values(text: str, ndim: int) -> np.ndarray:
    """Numbers typed by hand as a ``(C, L)`` (``ndim=1``) or ``(C, H, W)`` (``ndim=2``) array.

    Numbers are separated by commas and/or spaces; rows by newlines or semicolons.  For 1-D
    every row is one channel; for 2-D the rows form a matrix and a blank line starts the next
    channel.  A Python/NumPy style nested list (``[[1, 2], [3, 4]]``) works too.  The text is
    read row by row and refused at the first row that breaks a limit.

    Args:
        text: what the user typed, at most ``MAX_TYPED_CHARS`` characters.
        ndim: 1 or 2 spatial axes.

    Raises:
        SourceError: for anything that is not a table of finite numbers within the limits.

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
    if stripped.startswith(("[", "(")):
        arr = _nested_list(stripped, ndim, what)
    else:
        arr = _typed_rows(stripped, ndim, what)
    return _check_array(arr, ndim, what)


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


def _csv_lines(label: str, data: bytes) -> Iterator[tuple[int, str, bool]]:
    """``(line number, text, complete)`` for each line, decoded lazily: a line longer than
    ``MAX_LINE_CHARS`` comes back cut there with ``complete`` False."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline=None)
    line_no = 0
    try:
        while line := text.readline(MAX_LINE_CHARS + 1):
            line_no += 1
            complete = line.endswith("\n") or len(line) <= MAX_LINE_CHARS
            yield line_no, line.rstrip("\n"), complete
    except UnicodeDecodeError:
        try:  # decode again in one piece for the error's position in the file
            data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise SourceError(f"{label}: not UTF-8 text (byte 0x{data[e.start]:02x} at position "
                              f"{e.start}); expected numbers separated by commas") from None
        raise


_LONG_ROW_CHARS = 1_000  # shorter rows are faster as Python floats, and small either way
_EMPTY_FIELD = {d: re.compile(rf"(?:^|{d})\s*(?:{d}|$)") for d in (",", ";", "\t")}


def _csv_fields(line: str, delim: str | None, where: str, ndim: int) -> list[str]:
    line = line.rstrip(" \t\r" + (delim or ""))  # trailing delimiters end no field
    fields = _split_capped(line, delim, where, ndim)
    if delim is not None and '"' in line:  # quoted fields: read by the csv module
        try:
            fields = next(csv.reader([line], delimiter=delim, skipinitialspace=True))
        except csv.Error as e:
            raise SourceError(f"{where}: not readable as CSV ({e})") from None
    while fields and not fields[-1].strip():  # a trailing quoted "" or delimiter
        fields.pop()
    if max(map(len, fields), default=0) > MAX_FIELD_CHARS:
        col, longest = max(enumerate(fields, start=1), key=lambda f: len(f[1]))
        raise SourceError(f"{where}, column {col} is {len(longest):,} characters long, more "
                          f"than the {MAX_FIELD_CHARS:,} one field may have")
    return fields


def _csv_values(line: str, delim: str | None, where: str, ndim: int
                ) -> np.ndarray | list[float]:
    """One CSV row's numbers.  A long plain row (no quotes, no empty field) is parsed by NumPy
    in one C call with no Python object per number; anything else, or anything NumPy refuses,
    goes through :func:`_csv_fields` and ``float``, which also name what is wrong."""
    body = line.rstrip(" \t\r" + (delim or ""))  # trailing delimiters end no field
    fields = body.count(delim) + 1 if delim else None
    if fields is not None and fields > MAX_ROW_VALUES:
        _split_capped(body, delim, where, ndim)  # raises, naming the rule
    if (len(body) > _LONG_ROW_CHARS and '"' not in body
            and (delim is None or not _EMPTY_FIELD[delim].search(body))):
        try:
            values = np.fromstring(body, dtype=np.float64, sep=delim or " ")
        except ValueError:
            values = None
        if (values is not None and len(values) == (fields or len(values))
                and np.isfinite(values).all()):
            if len(values) > MAX_ROW_VALUES:
                _split_capped(body, delim, where, ndim)
            return values
    return _to_floats(_csv_fields(body, delim, where, ndim), where)


def _trailing_empty(line: str, delim: str | None) -> int:
    """How many empty fields end ``line`` (``1,2,,`` has two): a trailing delimiter ends no
    value, but it is a cell a spreadsheet left empty."""
    if delim is None:
        return 0
    body, n = line.rstrip(" \t\r"), 0
    while body.endswith(delim):
        body, n = body[:-1].rstrip(" \t\r"), n + 1
    return n


def _read_csv(label: str, data: bytes, ndim: int) -> tuple[np.ndarray, list[str]]:
    """A CSV upload's numbers.  No cell is dropped in silence: an empty cell inside a row, or
    one that leaves a row short, is refused with its row and column; empty cells after the
    last number of rows that still have every value are ignored with a notice; a blank line
    between rows that are columns of samples (1-D: one column, or a tall table) is a missing
    sample in each and is refused (between 2-D channels, or 1-D rows of channels, it only
    separates them)."""
    what, row = f"{label}: CSV", f"{label}: CSV row"
    rows = _Rows(what, row, ndim)
    notices: list[str] = []
    delim: str | None = ""  # found on the first row with content
    blank: int | None = None  # a blank line's number, until the next row of numbers
    gaps: list[int] = []  # blank lines between rows of numbers
    trailing: list[tuple[int, int]] = []  # (row, first empty column) of rows ending in empties
    for line_no, line, complete in _csv_lines(label, data):
        where = f"{row} {line_no}"
        if not complete:
            raise SourceError(f"{where} is longer than {MAX_LINE_CHARS:,} characters, the most "
                              "one row may have")
        if not line.strip():
            rows.end_block()
            if rows.rows and blank is None:
                blank = line_no
            continue
        if line.lstrip().startswith("#"):
            continue
        first = delim == ""
        if first:
            counts = {d: line.count(d) for d in (",", ";", "\t")}
            delim = max(counts, key=counts.get) if any(counts.values()) else None
            fields = _csv_fields(line, delim, where, ndim)
            if fields and not any(map(_is_number, fields)):
                notices.append(f"skipped the header row {line_no}: {line.strip()[:60]!r}")
                continue
        values = _csv_values(line, delim, where, ndim)
        empty = _trailing_empty(line, delim)
        if empty:
            if rows.width is not None and len(values) < rows.width:
                raise SourceError(f"{where}, column {len(values) + 1} is empty (the rows "
                                  f"before it have {_plural(rows.width, 'value')})")
            trailing.append((line_no, len(values) + 1))
        elif trailing and rows.width is not None and len(values) > rows.width:
            raise SourceError(f"{row} {trailing[0][0]}, column {trailing[0][1]} is empty "
                              f"(row {line_no} has {_plural(len(values), 'value')})")
        if blank is not None:
            gaps.append(blank)
            blank = None
        rows.add(line_no, values)
    arr = rows.array(2 if ndim == 1 else 3)
    if ndim == 1:
        n_rows, cols = arr.shape
        if gaps and (cols == 1 or n_rows > cols):  # samples go down: a blank line is a gap
            raise SourceError(f"{row} {gaps[0]} is empty: in a column of samples that is a "
                              "missing value (fill it in or delete the line)")
        if cols == 1:  # one column: one signal
            arr = arr.T
        elif n_rows > cols > 1:  # a tall table: samples go down, one channel per column
            arr = arr.T
            notices.append(f"read {cols} channels of {n_rows} samples, one channel per column")
        elif n_rows > 1:
            notices.append(f"read {n_rows} channels of {cols} samples, one channel per row")
    if trailing:
        first, more = trailing[0][0], len(trailing) - 1
        which = "every row" if len(trailing) == rows.rows else (
            f"row {first}" + (f" and {_plural(more, 'more row')}" if more else ""))
        notices.append(f"ignored the empty cells after column {rows.width} on {which} (a "
                       f"trailing {delim!r})")
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
    except (ValueError, SyntaxError, tokenize.TokenError) as e:
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
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        raise SourceError(f"{label}: {count:,} values (shape {shape}), more than "
                          f"the {MAX_ELEMENTS:,} limit")
    if count * dtype.itemsize > len(data) - f.tell():
        raise SourceError(f"{label}: truncated or damaged .npy data (the header announces "
                          f"{count * dtype.itemsize:,} bytes of {dtype} values, the file holds "
                          f"{len(data) - f.tell():,})")
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, EOFError, OSError) as e:
        raise SourceError(f"{label}: truncated or damaged .npy data ({e})") from None
    with np.errstate(over="ignore"):  # beyond float32's range: inf, refused by _check_array
        return _shape_npy(label, arr.astype(np.float32), ndim)


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
_UPRIGHT = {  # EXIF orientation -> the transpose that shows the image as meant (as exif_transpose)
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90,
}
_IMAGE_OPENERS = (  # magic bytes -> Pillow's lazy reader: size and mode, no pixels decoded
    (b"\x89PNG\r\n\x1a\n", PngImagePlugin.PngImageFile),
    (b"\xff\xd8\xff", JpegImagePlugin.JpegImageFile),
)
# Bytes Pillow holds per pixel while an image of each mode is decoded and, for the modes in
# _CONVERT_BEFORE_RESIZE, converted at full size (any multi-band 8-bit pixel takes 4 bytes).
_DECODE_BYTES_PER_PIXEL = {"1": 2, "L": 1, "P": 5, "PA": 8, "LA": 5, "RGB": 4, "RGBA": 8,
                           "CMYK": 4, "YCbCr": 4, "I;16": 2, "I;16B": 2, "I;16L": 2, "I": 4,
                           "F": 4}
_CONVERT_BEFORE_RESIZE = {"1": "L", "P": "RGB", "PA": "RGB", "LA": "L", "RGBA": "RGB"}
_DAMAGED_IMAGE = (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, struct.error,
                  Image.DecompressionBombError)


def _open_image(label: str, data: bytes) -> Image.Image:
    """The PNG or JPEG in ``data`` with only its header read."""
    for magic, opener in _IMAGE_OPENERS:
        if data.startswith(magic):
            try:
                return opener(io.BytesIO(data))
            except _DAMAGED_IMAGE:
                raise SourceError(f"{label}: not a readable PNG or JPEG image (damaged "
                                  "header)") from None
    try:  # only to name the format in the message; nothing is decoded
        with Image.open(io.BytesIO(data)) as other:
            fmt = other.format
    except Exception:  # whatever Pillow raises naming a foreign file, the answer is the same
        fmt = None
    if fmt:
        raise SourceError(f"{label}: holds a {fmt} image, expected PNG or JPEG")
    raise SourceError(f"{label}: not a readable PNG or JPEG image")


def _read_image(label: str, data: bytes, max_side: int, color: str
                ) -> tuple[np.ndarray, list[str]]:
    img = _open_image(label, data)
    notices = []
    w, h = img.size
    if w * h > MAX_IMAGE_PIXELS:
        raise SourceError(f"{label}: image is {h}×{w} (height×width) = {w * h / 1e6:.1f} "
                          f"megapixels, more than the {MAX_IMAGE_PIXELS / 1e6:g} megapixel limit")
    if getattr(img, "n_frames", 1) > 1:
        notices.append(f"the image has {img.n_frames} frames; using the first")
    scale = min(1.0, max_side / max(w, h))
    target = (max(1, round(w * scale)), max(1, round(h * scale)))  # as stored, before turning
    if img.format == "JPEG" and scale < 1:  # decode at a reduced size straight away
        img.draft(img.mode, target)
    cost = img.size[0] * img.size[1] * _DECODE_BYTES_PER_PIXEL.get(img.mode, 8)
    if cost > IMAGE_DECODE_BYTES:
        raise SourceError(f"{label}: a {h}×{w} (height×width) {img.mode} image takes "
                          f"{cost / 1e6:.0f} MB to decode, more than the "
                          f"{IMAGE_DECODE_BYTES / 1e6:.0f} MB one upload may use; save it "
                          "smaller or without transparency")
    if img.mode in ("LA", "PA", "RGBA") or "transparency" in img.info:
        notices.append("dropped the alpha (transparency) channel")
    try:
        orientation = img.getexif().get(_EXIF_ORIENTATION, 1)  # a PNG's may follow its pixels
    except _DAMAGED_IMAGE:
        orientation = 1
    try:
        img.load()
        if img.mode in _CONVERT_BEFORE_RESIZE:  # palette, 1-bit and alpha: no averaging those
            img = img.convert(_CONVERT_BEFORE_RESIZE[img.mode])
        if img.size != target:
            img = img.resize(target, Image.Resampling.BOX)  # area average: no overshoot
    except _DAMAGED_IMAGE as e:
        raise SourceError(f"{label}: damaged image data ({e})") from None
    if orientation in _UPRIGHT:
        img = img.transpose(_UPRIGHT[orientation])
    if img.mode.startswith("I;16"):
        img, peak = img.convert("F"), 65535.0
    elif img.mode in ("I", "F"):  # 32-bit: kept as the numbers they are
        img, peak = img.convert("F"), 1.0
    else:
        img, peak = img.convert("L" if img.mode == "L" else "RGB"), 255.0
    arr = np.array(img, dtype=np.float32)
    arr /= peak  # correctly rounded: the same float32 as dividing in float64 and rounding
    maps = arr[None] if arr.ndim == 2 else np.moveaxis(arr, 2, 0)
    if color == "gray" and maps.shape[0] == 3:
        maps = np.tensordot(_LUMA, maps, axes=1)[None]
    elif color == "rgb" and maps.shape[0] == 1:
        maps = np.repeat(maps, 3, axis=0)
    if scale < 1:
        shown_h, shown_w = (w, h) if orientation in (5, 6, 7, 8) else (h, w)
        out_h, out_w = maps.shape[1:]
        notices.append(f"image downscaled from {shown_h}×{shown_w} to {out_h}×{out_w} pixels "
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

    Every limit is checked before the work it guards: the byte count first, then a CSV row by
    row as it is read (``MAX_LINE_CHARS``, ``MAX_FIELD_CHARS``, ``MAX_ROW_VALUES``, the most
    rows any input has, ``MAX_ELEMENTS`` values), a ``.npy`` header's dtype and shape, an
    image header's width × height (``MAX_IMAGE_PIXELS``, also Pillow's own bomb limit).

    Args:
        name: the file name (its extension picks the reader).
        data: the file's bytes, at most ``max_bytes``.
        ndim: 1 or 2 spatial axes.
        max_side: the longest image side kept, at most ``MAX_SIDE_2D``.
        color: "auto", "gray" or "rgb" (images only).
        max_bytes: the largest file accepted.

    Returns:
        ``(array, notices)``: notices are sentences for the user about what was changed.

    Raises:
        SourceError: for anything unreadable or beyond the limits, naming the rule and value.

    Examples::

        >>> x, notices = load_upload("a.csv", b"1,2,3\\n4,5,6\\n", ndim=2)
        >>> x.shape, notices
        ((1, 2, 3), [])
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
    size = memoryview(data).nbytes
    if size > max_bytes:
        raise SourceError(f"{label}: file too large: {_format_mb(size)} > "
                          f"{_format_mb(max_bytes)} limit")
    if not size:
        raise SourceError(f"{label}: the file is empty (0 bytes)")
    data = bytes(data)  # no copy when it already is bytes
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
