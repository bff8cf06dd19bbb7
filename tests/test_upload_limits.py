"""Uploads and typed values against their budgets: every refusal is a SourceError naming the
rule and the value, and nothing a user sends costs more memory than the issue allows.

The reproducers are the ones issue 8 measured on main (a 30000×30000 PNG, a CSV field over
131,072 characters, a 16 MB CSV of 8M rows, a 15.8 MB CSV of 7.9M columns, a 2 MB typed nested
list).  Peak memory is measured by ``tests/upload_probe.py`` in forks of a separate process (the
kernel's high-water mark; see that file for why not ``ru_maxrss``).  Budgets asserted: every
upload ≤ 200 MB; text and arrays ≤ 10× their size plus 4 MB for the interpreter's and
allocator's granularity (a 100-byte file cannot be parsed in 1 kB); images, whose decoded
size has nothing to do with their compressed size, ≤ 200 MB.
"""

from __future__ import annotations

import ast
import io
import json
import random
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.shared import sources  # noqa: E402
from app.shared.sources import SourceError, load_upload, parse_typed_values  # noqa: E402

PROBE = Path(__file__).with_name("upload_probe.py")
MB = 1_000_000
CAP = 200 * MB
FLOOR = 4 * MB


# ------------------------------------------------------------------------------ builders

def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def flat_png(width: int, height: int, color_type: int = 0, bit_depth: int = 8) -> bytes:
    """A valid one-colour PNG, compressed row block by row block: never the whole image in
    memory, so a 30000×30000 one costs this process nothing but time (~2 s)."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    row = bytes(1 + (width * channels * bit_depth + 7) // 8)
    comp = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    block_rows = max(1, min(height, 4_000_000 // len(row)))
    parts = [comp.compress(row * min(block_rows, height - y))
             for y in range(0, height, block_rows)]
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    palette = png_chunk(b"PLTE", bytes(3)) if color_type == 3 else b""
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + palette
            + png_chunk(b"IDAT", b"".join(parts)) + png_chunk(b"IEND", b""))


def png_with_header(width: int, height: int, bit_depth: int, color_type: int,
                    idat: bytes = b"") -> bytes:
    """Any IHDR (valid CRC), then ``idat``: hostile headers reach the reader's checks."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def image_bytes(arr, fmt="PNG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **kw)
    return buf.getvalue()


def npy_bytes(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def npy_with_header(header: str, payload: bytes = b"") -> bytes:
    """A version 1.0 .npy file with any header text (padded as np.save pads it)."""
    text = header + " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1") + payload


def jpeg_with_size(width: int, height: int) -> bytes:
    """A small real JPEG whose SOF header claims ``width``×``height``."""
    raw = bytearray(image_bytes(np.full((8, 8), 90, np.uint8), "JPEG"))
    sof = raw.index(b"\xff\xc0")
    raw[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(raw)


# --------------------------------------------------------------------------- the probe

def probe(cases: list[tuple[str, int, bytes]], tmp_path: Path) -> list[dict]:
    """Peak memory and outcome of each ``(name, ndim, data)``; name "typed" is typed text."""
    manifest = []
    for i, (name, ndim, data) in enumerate(cases):
        path = tmp_path / f"case{i:03d}"
        path.write_bytes(data)
        manifest.append({"file": str(path), "name": name, "ndim": ndim,
                         "kind": "typed" if name == "typed" else "upload"})
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    done = subprocess.run([sys.executable, str(PROBE), str(tmp_path / "manifest.json")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == len(cases), done.stderr[-3000:]
    for (name, ndim, data), r in zip(cases, results):
        r.update(name=name, ndim=ndim, size=len(data))
    return results


def is_image(name: str) -> bool:
    return name.lower().endswith((".png", ".jpg", ".jpeg"))


def over_budget(r: dict) -> str | None:
    """Why ``r`` broke a budget, or None."""
    if r["peak_bytes"] > CAP:
        return f"peak {r['peak_bytes'] / MB:.1f} MB > 200 MB"
    if not is_image(r["name"]) and r["peak_bytes"] > 10 * r["size"] + FLOOR:
        return (f"peak {r['peak_bytes'] / MB:.1f} MB > 10 × {r['size'] / MB:.2f} MB + "
                f"{FLOOR / MB:g} MB")
    return None


def describe(r: dict) -> str:
    return (f"{r['name']} (ndim {r['ndim']}, {r['size']:,} B): {r['error'] or 'ok'} "
            f"{(r['message'] or '')[:120]}; peak {r['peak_bytes'] / MB:.1f} MB, "
            f"{r['seconds']:.2f} s")


# ------------------------------------------------------------------------- reproducers

def test_pillows_bomb_limit_is_the_apps():
    assert Image.MAX_IMAGE_PIXELS == sources.MAX_IMAGE_PIXELS == 24_000_000


def test_issue_reproducers_are_refused_within_budget(tmp_path):
    """Each reproducer of issue 8 (tracebacks or 0.5–2.3 GB on main) and the largest uploads
    that are accepted, measured one by one."""
    bomb = flat_png(30_000, 30_000)
    assert 800_000 < len(bomb) < 900_000  # the issue's "870 kB"
    with pytest.raises(Image.DecompressionBombError):  # what used to escape
        Image.open(io.BytesIO(bomb))
    nested_2d = "[" + ",".join(["[" + ",".join(["1"] * 999) + "]"] * 999) + "]"
    cases = [
        ("bomb.png", 2, bomb),
        ("field.csv", 1, b'"' + b"7" * 140_000 + b'"\n'),
        ("quoted.csv", 1, b'1,"' + b"1," * 70_000 + b'"\n'),
        ("rows.csv", 1, b"0\n" * 8_000_000),
        ("columns.csv", 2, b"0," * 7_900_000),
        ("typed", 1, ("[" + "1," * 999_990 + "1]").encode()),
        ("typed", 2, nested_2d.encode()),
        ("accepted.csv", 2, "\n".join([",".join(["0.25"] * 1024)] * 1024).encode()),
        ("accepted.npy", 2, npy_bytes(np.zeros((4, 1024, 1024), np.uint8))),
        ("palette.png", 2, flat_png(6000, 4000, color_type=3)),
        ("rgba.png", 2, flat_png(6000, 4000, color_type=6)),
        ("photo.jpg", 2, image_bytes(np.tile(np.arange(6000, dtype=np.uint8), (4000, 1)),
                                     "JPEG", quality=50)),
    ]
    results = probe(cases, tmp_path)
    by_case = {(r["name"], r["ndim"]): r for r in results}
    report = "\n".join(map(describe, results))
    print(report)
    broken = [f"{describe(r)}: {over_budget(r)}" for r in results if over_budget(r)]
    assert not broken, "\n".join(broken)
    assert all(r["error"] in (None, "SourceError") for r in results), report

    def refused(name, ndim, *phrases):
        r = by_case[(name, ndim)]
        assert r["error"] == "SourceError", describe(r)
        for phrase in phrases:
            assert phrase in r["message"], describe(r)

    refused("bomb.png", 2, "image is 30000×30000 (height×width) = 900.0 megapixels, more "
                           "than the 24 megapixel limit")
    refused("field.csv", 1, "CSV row 1, column 1 is 140,002 characters long, more than the "
                            "1,000 one field may have")
    refused("quoted.csv", 1, "CSV row 1: not readable as CSV (field larger than field limit")
    refused("rows.csv", 1, "at least 100,001 samples, more than the 100,000 limit for 1-D "
                           "signals (stopped reading at row 100,001)")
    refused("columns.csv", 2, "CSV row 1 is longer than 4,000,000 characters")
    refused("typed", 1, "typed values: row 1: 999,991 samples, more than the 100,000 limit")
    refused("rgba.png", 2, "a 4000×6000 (height×width) RGBA image takes 192 MB to decode, "
                           "more than the 128 MB one upload may use")
    for name, shape in [("typed", [1, 999, 999]), ("accepted.csv", [1, 1024, 1024]),
                        ("accepted.npy", [4, 1024, 1024]), ("palette.png", [3, 683, 1024]),
                        ("photo.jpg", [1, 683, 1024])]:
        assert by_case[(name, 2)]["shape"] == shape, describe(by_case[(name, 2)])
    # refused from their headers or first rows: no reading on
    for key in [("bomb.png", 2), ("rgba.png", 2), ("columns.csv", 2), ("field.csv", 1)]:
        assert by_case[key]["peak_bytes"] < 10 * MB, describe(by_case[key])
    # a JPEG is decoded at a quarter of its size: a fraction of a PNG's memory
    assert by_case[("photo.jpg", 2)]["peak_bytes"] < by_case[("palette.png", 2)]["peak_bytes"] / 4


def test_bombs_in_other_formats_are_source_errors():
    gif = bytearray(image_bytes(np.zeros((4, 4), np.uint8), "GIF"))
    gif[6:10] = struct.pack("<HH", 65535, 65535)  # logical screen 65535×65535
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no DecompressionBombWarning either
        for name, data in [("g.png", bytes(gif)), ("j.jpg", jpeg_with_size(65500, 65500)),
                           ("p.png", flat_png(6000, 6000))]:
            with pytest.raises(SourceError) as e:
                load_upload(name, data, 2)
            assert "PNG or JPEG" in str(e.value) or "megapixel limit" in str(e.value)
    with pytest.raises(SourceError, match=r"65500×65500 \(height×width\) = 4290.2 megapixels"):
        load_upload("j.jpg", jpeg_with_size(65500, 65500), 2)


# ---------------------------------------------------------------------- exact messages

@pytest.mark.parametrize("raw,ndim,msg", [
    (b"1,2\n" + b"3," * 100_001 + b"\n", 1, r"'x.csv': CSV row 2: 100,001 samples, more than the "
                                           r"100,000 limit for 1-D signals"),
    (b"1\t" * 100_001, 2, r"CSV row 1: 100,001 values, more than the 1024 a row of a 2-D map"),
    (b"1 " * 100_001, 2, r"CSV row 1: 100,001 values, more than the 1024"),
    (b'1,"2,3"\n', 1, r"CSV row 1, column 2: '2,3' is not a number"),
    (b"1," + b"9" * 1001 + b"\n", 1, r"column 2 is 1,001 characters long, more than the 1,000"),
    (b"1,2\n" * 50 + b"1,2,3\n", 1, r"CSV row 51 has 3 values, expected 2"),
    ("1,2\n3,\u00e9\n".encode(), 1, r"CSV row 2, column 2: 'é' is not a number"),
    (b"1,2\n\xe9", 1, r"not UTF-8 text \(byte 0xe9 at position 4\)"),
])
def test_csv_refusals(raw, ndim, msg):
    with pytest.raises(SourceError, match=msg):
        load_upload("x.csv", raw, ndim)


def test_csv_limits_in_all_values(monkeypatch):
    monkeypatch.setattr(sources, "MAX_ELEMENTS", 10)
    with pytest.raises(SourceError, match=r"'x.csv': CSV: more than 10 values in all, the limit "
                                          r"for all channels together \(stopped reading at row "
                                          r"4\)"):
        load_upload("x.csv", b"1,2,3\n4,5,6\n7,8,9\n1,2,3\n", 2)


def test_line_endings_and_long_rows():
    x, _ = load_upload("m.csv", b"1,2\r3,4\r", 2)  # classic Mac line ends
    assert x.tolist() == [[[1, 2], [3, 4]]]
    row = ",".join(f"{v:.6g}" for v in np.linspace(-1, 1, 5000))  # parsed by NumPy in one go
    x, _ = load_upload("l.csv", (row + "\n" + row + "\n").encode(), 1)
    np.testing.assert_array_equal(x[1], np.float32([float(v) for v in row.split(",")]))


@pytest.mark.parametrize("text,ndim,msg", [
    ("[[1, 2], [3, 4]] 5", 1, "could not read"),
    ("[[1, 2], 3]", 1, "must be rectangular"),
    ("[[1], [[2]]]", 2, "must be rectangular"),
    ("[[[[1]]]]", 2, "nested at most 3 levels deep"),
    ("[1, 2)", 1, "could not read"),
    ("[[], []]", 2, "holds an empty list"),
    ("[1, 2, nan]", 1, r"row 1, column 3: 'nan' is not a finite number"),
    ("[" + "1," * 100_001 + "1]", 1, r"typed values: row 1: 100,002 samples, more than"),
    ("\n".join(["1"] * 100_001), 1, r"at least 100,001 samples, more than the 100,000 limit"),
    ("1 2;" * 70_000, 2, r"more than 65,536 rows, the most 64 channels of 1024 rows"),
])
def test_typed_refusals(text, ndim, msg):
    with pytest.raises(SourceError, match=msg):
        parse_typed_values(text, ndim)


# --------------------------------------------------------------------------- properties

NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.integers(-10**6, 10**6).map(str),
    st.floats(-1e6, 1e6).map(lambda v: f"{v:.3e}"),
)
FIELD = st.one_of(
    NUMBER_TEXT, NUMBER_TEXT.map(lambda s: f"  {s} "),
    st.sampled_from(["", " ", "nan", "-inf", "1e999", "1e39", "1_000", "0x1A", "+", ".", "e5",
                     "1 2", "١", "--1", "1d5"]),
)


def reference_row(fields: list[str]) -> np.ndarray | None:
    """What one CSV row must give, from ``float`` alone: None where it must be refused."""
    fields = list(fields)
    while fields and not fields[-1].strip():
        fields.pop()
    try:
        values = np.array([float(f) for f in fields])
    except ValueError:
        return None
    with np.errstate(over="ignore"):
        out = values.astype(np.float32)
    return out if np.isfinite(out).all() else None


@settings(max_examples=150)
@given(st.lists(FIELD, min_size=1, max_size=400), st.sampled_from([",", ";", "\t"]))
def test_csv_rows_long_and_short_equal_float(fields, delim):
    """Long rows go through NumPy's parser, short ones through ``float``: both must give what
    ``float`` gives, and refuse what it refuses (a SourceError, never another exception)."""
    fields = ["1", *fields]  # a number first: never a header
    line = delim.join(fields)
    expected = reference_row(fields)
    if expected is None:
        with pytest.raises(SourceError):
            load_upload("r.csv", (line + "\n").encode(), 2)
    else:
        x, _ = load_upload("r.csv", (line + "\n").encode(), 2)
        np.testing.assert_array_equal(x, expected[None, None])


def nested_text(value, rng: random.Random) -> str:
    if isinstance(value, list):
        sep = rng.choice([",", ", ", " ,\n", ",\t"])
        inner = sep.join(nested_text(v, rng) for v in value)
        return "[" + inner + rng.choice(["", ","]) + "]"
    return rng.choice([repr, str, lambda v: f"{v:.17g}"])(value)


@settings(max_examples=100)
@given(st.integers(1, 3), st.lists(st.integers(1, 4), min_size=3, max_size=3),
       st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1,
                max_size=8), st.randoms(use_true_random=False))
def test_nested_lists_read_like_python_literals(depth, sizes, pool, rng):
    shape = sizes[:depth]
    values = np.resize(np.array(pool, np.float64), shape)
    text = nested_text(values.tolist(), rng)
    assert np.array(ast.literal_eval(text)).tolist() == values.tolist()  # a Python literal
    ndim = 1 if depth == 1 else 2 if depth == 3 else rng.choice([1, 2])
    x = parse_typed_values(text, ndim)
    np.testing.assert_array_equal(x, values.astype(np.float32).reshape(x.shape))
    assert x.shape == (1, *shape) if depth == ndim else x.shape == tuple(shape)


# -------------------------------------------------------------------------------- fuzz

def mutate(data: bytes, rng: random.Random) -> bytes:
    raw = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        if op == 0 and raw:  # flip bytes
            for _ in range(rng.randint(1, 8)):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
        elif op == 1 and raw:  # truncate
            del raw[rng.randrange(len(raw)):]
        elif op == 2:  # insert junk
            at = rng.randrange(len(raw) + 1)
            raw[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        elif raw:  # repeat a slice
            a = rng.randrange(len(raw))
            b = min(len(raw), a + rng.randint(1, 256))
            raw[b:b] = raw[a:b] * rng.randint(1, 50)
    return bytes(raw)


def hostile_csv(rng: random.Random) -> bytes:
    tokens = ["0", "1.5", "-2e3", "nan", "inf", "", " ", '"3"', '"4,5"', "é", "#", "x", "1e39",
              '"' + "9" * rng.choice([10, 2000, 140_000]) + '"']
    delim = rng.choice([",", ";", "\t", " "])
    cols = rng.choice([1, 2, 3, 50, 1100])
    lines = []
    for _ in range(rng.choice([1, 2, 5, 40, 1100]) if cols < 1000 else rng.choice([1, 3])):
        kind = rng.random()
        if kind < 0.05:
            lines.append("")
        elif kind < 0.08:
            lines.append("# comment")
        elif kind < 0.8:
            lines.append(delim.join(rng.choice(tokens[:3]) for _ in range(cols)))
        else:
            lines.append(delim.join(rng.choice(tokens) for _ in range(rng.randint(1, cols))))
    text = rng.choice(["\n", "\r\n", "\r"]).join(lines)
    return (rng.choice(["", "\ufeff"]) + text).encode("utf-8")


def hostile_npy(rng: random.Random) -> bytes:
    dtype = rng.choice(["<f4", "<f8", "|u1", ">i2", "|b1", "|O", "<U3", "|V8", "<c8", "<M8[D]"])
    shape = tuple(rng.choice([0, 1, 3, 7, 1024, 65536, 2**31]) for _ in range(rng.randint(0, 4)))
    header = repr({"descr": dtype, "fortran_order": rng.random() < 0.3, "shape": shape})
    return npy_with_header(header, bytes(rng.randrange(256) for _ in range(rng.randint(0, 600))))


def hostile_png(rng: random.Random) -> bytes:
    width = rng.choice([0, 1, 5, 1025, 2**31 - 1, 2**32 - 1])
    height = rng.choice([0, 1, 7, 5000, 2**31 - 1])
    idat = zlib.compress(bytes(rng.randrange(256) for _ in range(rng.randint(0, 300))))
    return png_with_header(width, height, rng.choice([1, 2, 4, 8, 16, 3]),
                           rng.choice([0, 2, 3, 4, 6, 5]), idat)


def fuzz_cases(seed: int, n: int) -> list[tuple[str, int, bytes]]:
    rng = random.Random(seed)
    gen = np.random.default_rng(seed)
    valid = [
        ("a.csv", b"1,2,3\n4,5,6\n\n7,8,9\n1,2,3\n"),
        ("a.npy", npy_bytes(gen.random((2, 9, 7)))),
        ("a.npy", npy_bytes(np.asfortranarray(gen.integers(0, 9, (5, 6), dtype=np.int16)))),
        ("a.png", image_bytes(gen.integers(0, 255, (20, 30, 3), dtype=np.uint8))),
        ("a.png", image_bytes(gen.integers(0, 255, (9, 9, 4), dtype=np.uint8))),
        ("a.jpg", image_bytes(gen.integers(0, 255, (40, 24), dtype=np.uint8), "JPEG")),
        ("a.png", flat_png(2000, 1500, color_type=3)),
    ]
    cases = []
    for _ in range(n):
        kind = rng.random()
        ndim = rng.choice([1, 2])
        if kind < 0.35:
            name, data = rng.choice(valid)
            cases.append((name, 2 if name.endswith((".png", ".jpg")) else ndim,
                          mutate(data, rng)))
        elif kind < 0.55:
            cases.append(("h.csv", ndim, hostile_csv(rng)))
        elif kind < 0.7:
            cases.append(("h.npy", ndim, hostile_npy(rng)))
        elif kind < 0.8:
            cases.append(("h.png", 2, hostile_png(rng)))
        elif kind < 0.9:
            alphabet = "[]()0123456789.,;e-+ \n\tnaif"
            text = "".join(rng.choice(alphabet) for _ in range(rng.choice([5, 50, 5000])))
            cases.append(("typed", ndim, text.encode()))
        else:
            name = rng.choice(["r.csv", "r.npy", "r.png", "r.jpg", "r.jpeg"])
            cases.append((name, 2, bytes(rng.randrange(256) for _ in range(rng.randint(1, 3000)))))
    return cases


def test_fuzzed_uploads_only_raise_source_error_within_budget(tmp_path):
    """120 mutated and hostile uploads: each ends as an array or a SourceError, within the
    memory budget (seeded: the same cases every run)."""
    results = probe(fuzz_cases(seed=8, n=120), tmp_path)
    escaped = [describe(r) for r in results if r["error"] not in (None, "SourceError")]
    assert not escaped, "\n".join(escaped)
    broken = [f"{describe(r)}: {over_budget(r)}" for r in results if over_budget(r)]
    assert not broken, "\n".join(broken)
    refusals = [r for r in results if r["error"] == "SourceError"]
    assert len(refusals) > 60 and len(results) - len(refusals) > 10  # both paths exercised
    assert all(r["message"] for r in refusals)
