"""app.sources: samples, typed values, uploads (CSV, .npy, PNG/JPEG) and kernels, with real
values.  Every upload is made here as bytes, the way a browser would hand it over."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `pytest` (not `python -m pytest`) leaves the root off the path
    sys.path.insert(0, str(ROOT))

import convcore as cc  # noqa: E402
from app.shared import sources  # noqa: E402
from app.shared.sources import (  # noqa: E402
    SourceError,
    arange_input,
    custom_w,
    expand_kernel,
    kernel_presets,
    load_sample,
    load_upload,
    parse_typed_values,
    random_input,
    random_kernel,
    sample_images,
    sample_signals,
)
from convcore.examples import get_example  # noqa: E402
from convcore.modules import Conv1D, Conv2D  # noqa: E402


def _make_assets():
    spec = importlib.util.spec_from_file_location("make_assets", ROOT / "assets" / "make_assets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def npy_bytes(arr, **kw) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, **kw)
    return buf.getvalue()


def image_bytes(arr_or_img, fmt="PNG", **save_kw) -> bytes:
    img = arr_or_img if isinstance(arr_or_img, Image.Image) else Image.fromarray(arr_or_img)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save_kw)
    return buf.getvalue()


def conv(x, w, **kw):
    """Cross-correlate one map/signal with one kernel through convcore; returns the map."""
    x = np.asarray(x, np.float32)
    w = np.asarray(w, np.float32)
    f = cc.conv1d if x.ndim == 1 else cc.conv2d
    return cc.to_numpy(f(x[None, None], w[None, None], **kw))[0, 0]


# ------------------------------------------------------------------------------ samples

class TestSamples:
    def test_names_and_loaders(self):
        assert list(sample_signals()) == ["chirp", "step", "noisy sine", "spike train"]
        assert list(sample_images()) == ["checkerboard", "letter F", "gradient blob", "rgb scene"]
        for name, loader in {**sample_signals(), **sample_images()}.items():
            np.testing.assert_array_equal(loader(), load_sample(name))

    @pytest.mark.parametrize("name", ["chirp", "step", "noisy sine", "spike train"])
    def test_signals_are_one_channel_float32(self, name):
        x = load_sample(name)
        assert x.dtype == np.float32 and x.ndim == 2 and x.shape[0] == 1
        assert 100 <= x.shape[1] <= 1000

    @pytest.mark.parametrize("name,shape", [("checkerboard", (1, 16, 16)),
                                            ("letter F", (1, 16, 16)),
                                            ("gradient blob", (1, 32, 32)),
                                            ("rgb scene", (3, 64, 64))])
    def test_images_shapes_and_range(self, name, shape):
        x = load_sample(name)
        assert x.shape == shape and x.dtype == np.float32
        assert x.min() >= 0 and x.max() <= 1

    def test_step_and_spikes_values(self):
        step = load_sample("step")[0]
        np.testing.assert_array_equal(step, (np.arange(200) >= 100).astype(np.float32))
        spikes = load_sample("spike train")[0]
        assert np.flatnonzero(spikes).tolist() == list(range(12, 200, 25))
        assert spikes[12] == 1.0 and spikes[37] == 0.5

    def test_checkerboard_and_letter(self):
        board = load_sample("checkerboard")[0]
        assert board[0, 0] == 0 and board[0, 4] == 1 and board[4, 4] == 0 and board.mean() == 0.5
        letter = load_sample("letter F")[0]
        assert set(np.unique(letter)) == {0.0, 1.0}
        # an F is neither left-right nor up-down symmetric: flips show on screen
        assert not np.array_equal(letter, letter[:, ::-1])
        assert not np.array_equal(letter, letter[::-1])

    def test_rgb_scene_sky_is_blue_and_ground_green(self):
        scene = load_sample("rgb scene")
        r, g, b = scene[:, 2].mean(axis=1)  # a row near the top
        assert b > g > r
        r, g, b = scene[:, -2].mean(axis=1)  # a row near the bottom
        assert g > r and g > b

    def test_samples_match_the_generator(self):
        built = _make_assets().build()
        files = {**sources.SAMPLE_SIGNALS, **sources.SAMPLE_IMAGES}
        for name, filename in files.items():
            expected = built[filename]
            if filename.endswith(".png"):
                expected = expected / 255
                expected = expected[None] if expected.ndim == 2 else np.moveaxis(expected, 2, 0)
            else:
                expected = expected[None]
            np.testing.assert_allclose(load_sample(name), expected, atol=1e-6, err_msg=name)

    def test_committed_assets_are_up_to_date_and_small(self):
        make_assets = _make_assets()
        assert make_assets.check() == []
        total = sum(p.stat().st_size for p in (ROOT / "assets").iterdir()
                    if p.suffix in (".csv", ".png", ".npy"))
        assert total < 200_000

    def test_generator_is_deterministic(self, tmp_path):
        make_assets = _make_assets()
        make_assets.write(tmp_path)
        assert make_assets.check(tmp_path) == []
        for name in make_assets.build():
            if name.endswith(".csv"):  # text: byte for byte
                assert (tmp_path / name).read_bytes() == (ROOT / "assets" / name).read_bytes()

    def test_returned_arrays_are_copies(self):
        x = load_sample("step")
        x[:] = 7
        assert load_sample("step")[0, 0] == 0

    def test_unknown_sample(self):
        with pytest.raises(SourceError, match=r"unknown sample 'lena', expected one of 'chirp'"):
            load_sample("lena")


# ------------------------------------------------------------------ arange and random

class TestBuiltinInputs:
    def test_arange_1d_is_the_seeds_input(self):
        x = arange_input(1, 10)
        assert x.shape == (1, 10) and x.dtype == np.float32
        assert x[0].tolist() == list(range(10))

    def test_arange_2d_and_batch(self):
        x = arange_input(2, 5, 5)
        assert x.shape == (2, 5, 5) and x[0, 1, 2] == 7 and x[1, 0, 0] == 25
        xb = arange_input(1, 5, 5, batch=2)
        assert xb.shape == (2, 1, 5, 5) and xb[1, 0, 0, 0] == 25

    def test_arange_matches_the_documented_examples(self):
        ex = get_example("puzzlelib-conv2d-basic")
        out = cc.to_numpy(cc.conv2d(arange_input(1, 5, 5)[None], custom_w(2, 2)))
        np.testing.assert_array_equal(out, np.asarray(ex.printed, np.float32))

    @pytest.mark.parametrize("args,kw,msg", [
        ((0, 10), {}, "channels must be a positive integer, got 0"),
        ((1, 0), {}, "spatial size 1 must be a positive integer, got 0"),
        ((1, 5, 2.5), {}, "spatial size 2 must be a positive integer, got 2.5"),
        ((1, True), {}, "spatial size 1 must be a positive integer, got True"),
        ((1,), {}, "give at least one spatial size"),
        ((1, 4), {"batch": 0}, "batch must be a positive integer, got 0"),
    ])
    def test_arange_errors(self, args, kw, msg):
        with pytest.raises(SourceError, match=msg):
            arange_input(*args, **kw)

    def test_random_is_seeded_standard_normal(self):
        a = random_input((2, 100), seed=3)
        assert a.dtype == np.float32 and a.shape == (2, 100)
        np.testing.assert_array_equal(a, random_input((2, 100), seed=3))
        assert not np.array_equal(a, random_input((2, 100), seed=4))
        np.testing.assert_array_equal(
            a, np.random.default_rng(3).standard_normal((2, 100)).astype(np.float32))
        big = random_input((1, 200, 200), seed=0)
        assert abs(big.mean()) < 0.02 and abs(big.std() - 1) < 0.02

    def test_random_errors(self):
        with pytest.raises(SourceError, match=r"positive integer, got \(1, 0\)"):
            random_input((1, 0))
        with pytest.raises(SourceError, match="more than the 4,194,304 limit"):
            random_input((64, 1024, 1024))


# ------------------------------------------------------------------------ typed values

class TestTypedValues:
    def test_one_row(self):
        x = parse_typed_values("1, 2, 3", 1)
        assert x.dtype == np.float32 and x.tolist() == [[1, 2, 3]]

    @pytest.mark.parametrize("text", ["1 2 3", "1,2,3", " 1 ,  2\t3 ", "1, 2, 3,", "\n1, 2, 3\n\n"])
    def test_separators(self, text):
        assert parse_typed_values(text, 1).tolist() == [[1, 2, 3]]

    def test_rows_are_channels_in_1d(self):
        x = parse_typed_values("1, 2, 3\n4, 5, 6", 1)
        assert x.shape == (2, 3)
        np.testing.assert_array_equal(parse_typed_values("1, 2, 3; 4, 5, 6", 1), x)

    def test_numbers_forms(self):
        assert parse_typed_values("-1.5, 2e-3, .25, +4", 1).tolist() == [[-1.5, np.float32(2e-3),
                                                                          0.25, 4]]

    def test_matrix_in_2d(self):
        x = parse_typed_values("1 2 3; 4 5 6", 2)
        assert x.shape == (1, 2, 3) and x[0, 1, 2] == 6
        np.testing.assert_array_equal(parse_typed_values("1 2 3\n4 5 6", 2), x)

    def test_blank_line_starts_a_channel_in_2d(self):
        x = parse_typed_values("1 2\n3 4\n\n5 6\n7 8\n", 2)
        assert x.shape == (2, 2, 2) and x[1].tolist() == [[5, 6], [7, 8]]

    def test_nested_lists(self):
        assert parse_typed_values("[1, 2, 3]", 1).tolist() == [[1, 2, 3]]
        assert parse_typed_values("[[1, 2], [3, 4]]", 1).shape == (2, 2)
        assert parse_typed_values("[[1, 2], [3, 4]]", 2).shape == (1, 2, 2)
        assert parse_typed_values("[[[1]], [[2]]]", 2).shape == (2, 1, 1)

    @pytest.mark.parametrize("text,ndim,msg", [
        ("", 1, "typed values: nothing typed"),
        ("   \n ", 2, "typed values: nothing typed"),
        ("1, x, 3", 1, r"typed values: row 1, item 2: 'x' is not a number"),
        ("1 2\n3 4o", 2, r"row 2, item 2: '4o' is not a number"),
        ("1, 2, 3; 4, 5", 1, r"typed values: row 2 has 2 values, expected 3"),
        ("1, nan", 1, r"'nan' is not a finite number"),
        ("1, inf", 1, r"'inf' is not a finite number"),
        ("1 2\n3 4\n\n5 6", 2, r"channel 2 \(from row 3\) has 1 row, expected 2"),
        ("[[1, 2], [3]]", 1, "must be rectangular"),
        ("[1, 2", 1, "could not read"),
        ("[['a']]", 2, "must be rectangular and hold only numbers"),
        ("[1, 2]", 2, "needs a list nested 2 or 3 levels deep, got 1"),
        ("[1e39]", 1, "NaN or infinite"),
    ])
    def test_errors(self, text, ndim, msg):
        with pytest.raises(SourceError, match=msg):
            parse_typed_values(text, ndim)

    def test_limits(self):
        with pytest.raises(SourceError, match=r"100,001 samples, more than the 100,000 limit"):
            parse_typed_values(" ".join(["1"] * 100_001), 1)
        row = " ".join(["0"] * 1025)
        with pytest.raises(SourceError, match=r"1×1025 \(height×width\) is larger than the "
                                              r"1024×1024 limit"):
            parse_typed_values(row, 2)
        with pytest.raises(SourceError, match="ndim must be 1 or 2, got 3"):
            parse_typed_values("1", 3)

    def test_not_text(self):
        with pytest.raises(SourceError, match="expected text, got int"):
            parse_typed_values(5, 1)


# ------------------------------------------------------------------------ uploads: CSV

class TestCsv:
    def test_row_and_column(self):
        x, notes = load_upload("a.csv", b"1,2,3\n", 1)
        assert x.tolist() == [[1, 2, 3]] and x.dtype == np.float32 and notes == []
        x, notes = load_upload("a.csv", b"1\n2\n3\n4\n", 1)
        assert x.tolist() == [[1, 2, 3, 4]] and notes == []

    def test_tall_table_is_one_channel_per_column(self):
        data = np.column_stack([np.arange(10), -np.arange(10)])
        buf = io.StringIO()
        np.savetxt(buf, data, delimiter=",")
        x, notes = load_upload("t.csv", buf.getvalue().encode(), 1)
        assert x.shape == (2, 10) and x[1, 3] == -3
        assert notes == ["read 2 channels of 10 samples, one channel per column"]

    def test_wide_table_is_one_channel_per_row(self):
        x, notes = load_upload("w.csv", b"1,2,3,4\n5,6,7,8\n", 1)
        assert x.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
        assert notes == ["read 2 channels of 4 samples, one channel per row"]

    def test_savetxt_matrix_round_trip_2d(self):
        m = np.random.default_rng(0).standard_normal((7, 5)).astype(np.float32)
        buf = io.StringIO()
        np.savetxt(buf, m, delimiter=",", fmt="%.9g")
        x, notes = load_upload("m.csv", buf.getvalue().encode(), 2)
        np.testing.assert_array_equal(x, m[None])
        assert notes == []

    def test_channels_separated_by_blank_lines_2d(self):
        x, _ = load_upload("c.csv", b"1,2\n3,4\n\n5,6\n7,8\n", 2)
        assert x.shape == (2, 2, 2) and x[1, 1, 0] == 7

    @pytest.mark.parametrize("raw", [b"1;2;3\n4;5;6\n", b"1\t2\t3\n4\t5\t6\n", b"1 2 3\n4  5 6\n",
                                     b"1,2,3,\n4,5,6,\n", b"\xef\xbb\xbf1,2,3\r\n4,5,6\r\n",
                                     b'"1","2","3"\n"4","5","6"\n',
                                     b"# measured today\n1,2,3\n# again\n4,5,6\n"])
    def test_dialects(self, raw):
        x, _ = load_upload("d.csv", raw, 2)
        assert x.tolist() == [[[1, 2, 3], [4, 5, 6]]]

    def test_header_is_skipped_with_a_notice(self):
        x, notes = load_upload("h.csv", b"time,value\n0,1.5\n1,2.5\n2,3.5\n", 1)
        assert x.tolist() == [[0, 1, 2], [1.5, 2.5, 3.5]]
        assert notes[0] == "skipped the header row 1: 'time,value'"

    @pytest.mark.parametrize("raw,ndim,msg", [
        (b"1,2,3,4,5\n1,2,3,4,5\n1,2,3,4\n", 2, r"'x.csv': CSV row 3 has 4 values, expected 5"),
        (b"# c\n1,2\n\n1,2,3\n", 2, r"CSV row 4 has 3 values, expected 2"),
        (b"1,2\n3,abc\n", 1, r"'x.csv': CSV row 2, column 2: 'abc' is not a number"),
        (b"1,,3\n", 1, r"CSV row 1, column 2 is empty"),
        (b"1,2\n3,nan\n", 2, r"CSV row 2, column 2: 'nan' is not a finite number"),
        (b"\xff\xfe1,2", 1, r"not UTF-8 text \(byte 0xff at position 0\)"),
        (b"# only a comment\n\n", 1, "no numbers found"),
        (b"1,2\n3,4\n\n5,6\n", 2, r"channel 2 \(from row 4\) has 1 row, expected 2"),
    ])
    def test_errors(self, raw, ndim, msg):
        with pytest.raises(SourceError, match=msg):
            load_upload("x.csv", raw, ndim)

    @pytest.mark.parametrize("raw,ndim,msg", [
        # a blank line in a column of samples is a missing sample, not a separator
        (b"1\n2\n\n4\n", 1, r"'x.csv': CSV row 3 is empty: in a column of samples"),
        (b"t,v\n1,10\n2,20\n\n3,30\n", 1, r"CSV row 4 is empty: in a column of samples"),
        # a row cut short by an empty last cell: that cell, not just the count
        (b"1,10\n2,\n3,30\n", 1, r"CSV row 2, column 2 is empty \(the rows before it have 2 "
                                  r"values\)"),
        (b"1,2,\n3,4,5\n", 2, r"CSV row 1, column 3 is empty \(row 2 has 3 values\)"),
    ])
    def test_an_empty_cell_is_refused_with_its_row_and_column(self, raw, ndim, msg):
        with pytest.raises(SourceError, match=msg):
            load_upload("x.csv", raw, ndim)

    def test_empty_cells_after_the_last_number_are_ignored_with_a_notice(self):
        x, notes = load_upload("e.csv", b"1,2,3,\n4,5,6,\n", 2)
        assert x.tolist() == [[[1, 2, 3], [4, 5, 6]]]
        assert notes == ["ignored the empty cells after column 3 on every row (a trailing ',')"]
        x, notes = load_upload("e.csv", b"1;2;3;;\n4;5;6\n7;8;9\n", 2)
        assert x.shape == (1, 3, 3)
        assert notes == ["ignored the empty cells after column 3 on row 1 (a trailing ';')"]
        _, notes = load_upload("e.csv", b"1,2,\n3,4\n5,6,\n", 1)
        assert notes[-1] == ("ignored the empty cells after column 2 on row 1 and 1 more row (a "
                             "trailing ',')")
        # blank lines that only separate: 1-D rows of channels, 2-D channels, the file's end
        x, notes = load_upload("e.csv", b"1,2,3\n\n4,5,6\n", 1)
        assert x.tolist() == [[1, 2, 3], [4, 5, 6]]
        assert load_upload("e.csv", b"1\n2\n3\n\n\n", 1)[0].tolist() == [[1, 2, 3]]

    def test_limits(self):
        raw = ("\n".join(["0"] * 100_001) + "\n").encode()
        with pytest.raises(SourceError, match=r"100,001 samples, more than the 100,000 limit"):
            load_upload("long.csv", raw, 1)
        raw = ("\n".join([",".join(["0"] * 1025)] * 2)).encode()
        with pytest.raises(SourceError, match=r"2×1025 \(height×width\) is larger than"):
            load_upload("wide.csv", raw, 2)


# ------------------------------------------------------------------------ uploads: .npy

UNPICKLED = []


def _record_unpickling():
    UNPICKLED.append(True)
    return "I ran"


class Booby:
    """Unpickling one of these calls _record_unpickling: proof that pickle data was run."""

    def __reduce__(self):
        return (_record_unpickling, ())


class TestNpy:
    @pytest.mark.parametrize("shape,ndim,expected", [
        ((10,), 1, (1, 10)), ((3, 10), 1, (3, 10)), ((1, 3, 10), 1, (3, 10)),
        ((4, 6), 2, (1, 4, 6)), ((2, 4, 6), 2, (2, 4, 6)), ((1, 2, 4, 6), 2, (2, 4, 6)),
    ])
    def test_shapes_round_trip(self, shape, ndim, expected):
        a = np.arange(np.prod(shape), dtype=np.float64).reshape(shape) / 7
        x, notes = load_upload("a.npy", npy_bytes(a), ndim)
        assert x.shape == expected and x.dtype == np.float32
        np.testing.assert_array_equal(x.ravel(), a.astype(np.float32).ravel())
        assert bool(notes) == (len(shape) == ndim + 2)  # only the batch axis gets a notice

    def test_channels_last_image_array(self):
        a = np.random.default_rng(1).random((8, 9, 3))
        x, notes = load_upload("hwc.npy", npy_bytes(a), 2)
        assert x.shape == (3, 8, 9)
        np.testing.assert_allclose(x[2], a[..., 2], rtol=1e-6)
        assert "channels last" in notes[0]

    @pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int64, np.float16, np.float64,
                                       np.bool_])
    def test_numeric_dtypes(self, dtype):
        a = (np.arange(12) % 2).reshape(3, 4).astype(dtype)
        x, _ = load_upload("a.npy", npy_bytes(a), 2)
        assert x.dtype == np.float32 and x.tolist() == [a.astype(float).tolist()]

    def test_fortran_order(self):
        a = np.asfortranarray(np.arange(12.0).reshape(3, 4))
        x, _ = load_upload("f.npy", npy_bytes(a), 2)
        np.testing.assert_array_equal(x[0], a)

    def test_object_array_is_refused_without_unpickling(self, monkeypatch):
        raw = npy_bytes(np.array([Booby(), 1], dtype=object), allow_pickle=True)
        # the bytes really do run code when unpickled...
        assert np.load(io.BytesIO(raw), allow_pickle=True)[0] == "I ran" and UNPICKLED
        UNPICKLED.clear()

        def no_pickle(*a, **k):
            raise AssertionError("pickle was called")

        import pickle
        monkeypatch.setattr(pickle, "load", no_pickle)
        monkeypatch.setattr(pickle, "loads", no_pickle)
        for ndim in (1, 2):
            with pytest.raises(SourceError, match=r"'evil.npy': the array holds Python objects "
                                                  r"\(dtype object\)"):
                load_upload("evil.npy", raw, ndim)
        assert UNPICKLED == []

    @pytest.mark.parametrize("arr,msg", [
        (np.zeros(3, dtype=[("a", "f4"), ("b", "i4")]), "structured dtype"),
        (np.zeros(3, dtype=np.complex64), "dtype complex64 is not accepted"),
        (np.array(["1", "2"]), "dtype <U1 is not accepted"),
        (np.array(["2020-01-01"], dtype="datetime64[D]"), "is not accepted"),
    ])
    def test_non_numeric_dtypes(self, arr, msg):
        with pytest.raises(SourceError, match=msg):
            load_upload("a.npy", npy_bytes(arr), 1)

    @pytest.mark.parametrize("arr,ndim,msg", [
        (np.zeros((2, 1, 5)), 1, r"a batch of 2 items \(shape \(2, 1, 5\)\); upload one item"),
        (np.zeros((1, 1, 1, 5)), 1, r"shape \(1, 1, 1, 5\) does not fit a 1-D input"),
        (np.zeros(5), 2, r"shape \(5,\) does not fit a 2-D input, expected \(H, W\)"),
        (np.float64(3.0), 1, r"shape \(\) does not fit"),
        (np.zeros((0, 5)), 2, "no values"),
        (np.array([1.0, np.inf, np.nan]), 1, "2 values are NaN or infinite"),
        (np.array([1e300]), 1, "1 value is NaN or infinite"),
        (np.zeros((65, 4)), 1, "65 channels, more than the 64 limit"),
        (np.zeros((1025, 3)), 2, r"1025×3 \(height×width\) is larger than"),
    ])
    def test_bad_arrays(self, arr, ndim, msg):
        with pytest.raises(SourceError, match=msg):
            load_upload("a.npy", npy_bytes(arr), ndim)

    def test_huge_header_is_refused_before_reading(self):
        # a valid header claiming 4 billion floats, followed by nothing
        raw = npy_bytes(np.zeros(3, np.float32)).replace(b"(3,)", b"(65536, 65536)")
        with pytest.raises(SourceError, match=r"4,294,967,296 values \(shape \(65536, 65536\)\)"):
            load_upload("big.npy", raw, 2)

    def test_truncated_and_not_npy(self):
        raw = npy_bytes(np.arange(100.0))
        with pytest.raises(SourceError, match=r"truncated or damaged \.npy data"):
            load_upload("t.npy", raw[:-40], 1)
        with pytest.raises(SourceError, match=r"not a \.npy file"):
            load_upload("t.npy", b"1,2,3\n", 1)
        buf = io.BytesIO()
        np.savez(buf, a=np.arange(3))
        with pytest.raises(SourceError, match=r"not a \.npy file"):
            load_upload("t.npy", buf.getvalue(), 1)


# ------------------------------------------------------------------- uploads: images

class TestImages:
    def test_gray_png_round_trip(self):
        a = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
        x, notes = load_upload("g.png", image_bytes(a), 2)
        assert x.shape == (1, 6, 8) and x.dtype == np.float32 and notes == []
        np.testing.assert_allclose(x[0], a / 255, atol=1e-7)

    def test_rgb_png_keeps_channel_order(self):
        a = np.zeros((4, 5, 3), np.uint8)
        a[..., 0] = 255  # red
        a[1, 2] = (0, 0, 51)  # one blue pixel
        x, _ = load_upload("c.PNG", image_bytes(a), 2)
        assert x.shape == (3, 4, 5)
        assert x[0, 0, 0] == 1 and x[1, 0, 0] == 0 and x[2, 1, 2] == pytest.approx(0.2)

    def test_color_modes(self):
        a = np.zeros((2, 2, 3), np.uint8)
        a[0, 0] = (255, 0, 0)
        a[0, 1] = (0, 255, 0)
        a[1, 0] = (0, 0, 255)
        a[1, 1] = (100, 100, 100)
        gray, _ = load_upload("c.png", image_bytes(a), 2, color="gray")
        np.testing.assert_allclose(gray[0], [[0.299, 0.587], [0.114, 100 / 255]], atol=1e-6)
        rgb, _ = load_upload("g.png", image_bytes(np.full((2, 3), 51, np.uint8)), 2, color="rgb")
        assert rgb.shape == (3, 2, 3) and np.allclose(rgb, 0.2)
        with pytest.raises(SourceError, match="color must be one of auto, gray, rgb, got 'blue'"):
            load_upload("g.png", image_bytes(a), 2, color="blue")

    def test_alpha_palette_and_16_bit(self):
        rgba = np.zeros((3, 3, 4), np.uint8)
        rgba[..., 1] = 255
        x, notes = load_upload("a.png", image_bytes(rgba), 2)
        assert x.shape == (3, 3, 3) and x[1].min() == 1
        assert notes == ["dropped the alpha (transparency) channel"]
        pal = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), mode="P")
        pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
        x, _ = load_upload("p.png", image_bytes(pal), 2)
        assert x.shape == (3, 2, 2) and x[0, 0, 0] == 1 and x[2, 0, 1] == 1
        deep = Image.fromarray(np.array([[0, 65535], [32768, 1000]], np.uint16))
        x, _ = load_upload("d.png", image_bytes(deep), 2)
        np.testing.assert_allclose(x[0], [[0, 1], [32768 / 65535, 1000 / 65535]], rtol=1e-6)

    def test_jpeg(self):
        yy, xx = np.indices((32, 48))
        a = (xx * 5 + yy * 2).astype(np.uint8)
        x, _ = load_upload("photo.jpeg", image_bytes(a, "JPEG", quality=95), 2)
        assert x.shape == (1, 32, 48)
        assert np.abs(x[0] - a / 255).max() < 6 / 255

    def test_downscale_with_a_notice(self):
        a = np.zeros((100, 200), np.uint8)
        a[:, ::2] = 255  # one-pixel stripes: area averaging gives mid-gray
        x, notes = load_upload("wide.png", image_bytes(a), 2, max_side=50)
        assert x.shape == (1, 25, 50)
        assert np.abs(x - 0.5).max() <= 1 / 255
        assert notes == ["image downscaled from 100×200 to 25×50 pixels (height×width) to fit "
                         "the 50-pixel limit"]

    def test_jpeg_downscale_and_exif_rotation(self):
        img = Image.fromarray(np.full((300, 400, 3), 200, np.uint8))  # 400 wide, 300 high
        x, notes = load_upload("big.jpg", image_bytes(img, "JPEG"), 2, max_side=100)
        assert x.shape == (3, 75, 100) and "from 300×400 to 75×100" in notes[0]
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90° clockwise to display"
        a = np.zeros((20, 40), np.uint8)
        a[:, :10] = 255  # the left quarter is white
        raw = image_bytes(Image.fromarray(a), "JPEG", exif=exif, quality=95)
        x, _ = load_upload("phone.jpg", raw, 2)
        assert x.shape == (1, 40, 20)
        assert x[0, :10].mean() > 0.9 and x[0, 10:].mean() < 0.1  # now on top
        x, notes = load_upload("phone.jpg", raw, 2, max_side=10)
        assert x.shape == (1, 10, 5) and "from 40×20 to 10×5" in notes[0]

    def test_small_image_is_not_resampled(self):
        a = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
        x, notes = load_upload("r.png", image_bytes(a), 2, max_side=64)
        np.testing.assert_allclose(x[0], a / 255, atol=1e-7)
        assert notes == []

    def test_image_errors(self, monkeypatch):
        with pytest.raises(SourceError, match="not a readable PNG or JPEG image"):
            load_upload("x.png", b"\x89PNG but not really", 2)
        gif = image_bytes(np.zeros((4, 4), np.uint8), "GIF")
        with pytest.raises(SourceError, match=r"'x\.png': holds a GIF image, expected PNG or JPEG"):
            load_upload("x.png", gif, 2)
        with pytest.raises(SourceError, match=r"unsupported file type '.png' for a 1-D input "
                                              r"\(images are 2-D"):
            load_upload("x.png", image_bytes(np.zeros((4, 4), np.uint8)), 1)
        monkeypatch.setattr(sources, "MAX_IMAGE_PIXELS", 100)
        with pytest.raises(SourceError, match=r"image is 20×30 \(height×width\) = 0.0 megapixels"
                                              r", more than the 0.0001 megapixel limit"):
            load_upload("x.png", image_bytes(np.zeros((20, 30), np.uint8)), 2)

    @pytest.mark.parametrize("max_side", [0, 1025, 2.5, True])
    def test_max_side_is_checked(self, max_side):
        with pytest.raises(SourceError, match="max_side must be an integer from 1 to 1024"):
            load_upload("x.png", image_bytes(np.zeros((4, 4), np.uint8)), 2, max_side=max_side)


class TestUploadRules:
    @pytest.mark.parametrize("name,ndim,msg", [
        ("virus.exe", 2, "unsupported file type '.exe' for a 2-D input, expected .csv, .npy, "
                         ".png, .jpg, .jpeg"),
        ("virus.exe", 1, "unsupported file type '.exe' for a 1-D input, expected .csv, .npy"),
        ("README", 1, r"unsupported file type \(no extension\)"),
        ("data.npz", 2, "unsupported file type '.npz'"),
        ("data.pkl", 2, "unsupported file type '.pkl'"),
    ])
    def test_file_types(self, name, ndim, msg):
        with pytest.raises(SourceError, match=msg):
            load_upload(name, b"1,2,3", ndim)

    def test_too_large_and_empty(self):
        with pytest.raises(SourceError, match=r"'big.csv': file too large: 12.3 MB > 5 MB limit"):
            load_upload("big.csv", b"0" * 12_300_000, 1, max_bytes=5_000_000)
        with pytest.raises(SourceError, match=r"file too large: 16.0 MB > 16 MB limit"):
            load_upload("big.npy", b"0" * 16_000_001, 1)
        with pytest.raises(SourceError, match=r"'e.csv': the file is empty \(0 bytes\)"):
            load_upload("e.csv", b"", 1)

    def test_bytes_like_and_type_check(self):
        x, _ = load_upload("a.csv", bytearray(b"1,2"), 1)
        assert x.tolist() == [[1, 2]]
        with pytest.raises(SourceError, match="expected the file's bytes, got str"):
            load_upload("a.csv", "1,2", 1)

    def test_source_error_is_a_value_error(self):
        assert issubclass(SourceError, ValueError)


def test_docstring_examples_run():
    import doctest

    result = doctest.testmod(sources, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8 and result.failed == 0


# ------------------------------------------------------------------------------ kernels

def ramp_2d(h=7, w=9, slope=2.0):
    return np.tile(np.arange(w, dtype=np.float32) * slope, (h, 1))  # grows to the right


class TestPresets2D:
    def test_names_shapes_dtype(self):
        presets = kernel_presets(2)
        assert list(presets) == ["identity", "box blur 3x3", "gaussian 3x3", "gaussian 5x5",
                                 "sobel x", "sobel y", "laplacian", "sharpen"]
        for name, k in presets.items():
            assert k.dtype == np.float32, name
            assert k.shape == ((5, 5) if name == "gaussian 5x5" else (3, 3)), name

    @pytest.mark.parametrize("name,total", [("identity", 1), ("box blur 3x3", 1),
                                            ("gaussian 3x3", 1), ("gaussian 5x5", 1),
                                            ("sobel x", 0), ("sobel y", 0), ("laplacian", 0),
                                            ("sharpen", 1)])
    def test_sums(self, name, total):
        assert kernel_presets(2)[name].sum() == pytest.approx(total, abs=1e-6)

    def test_gaussians_are_symmetric_and_peak_in_the_centre(self):
        for name in ("gaussian 3x3", "gaussian 5x5"):
            k = kernel_presets(2)[name]
            np.testing.assert_allclose(k, k.T)
            np.testing.assert_allclose(k, k[::-1, ::-1])
            c = k.shape[0] // 2
            assert k[c, c] == k.max()
        assert kernel_presets(2)["gaussian 3x3"][1, 1] == pytest.approx(4 / 16)

    def test_identity_keeps_the_input(self):
        x = load_sample("letter F")[0]
        np.testing.assert_array_equal(conv(x, kernel_presets(2)["identity"], padding=1), x)

    def test_sobel_x_of_a_horizontal_ramp_is_constant(self):
        out = conv(ramp_2d(slope=2.0), kernel_presets(2)["sobel x"])
        assert out.shape == (5, 7)
        np.testing.assert_array_equal(out, np.full((5, 7), 16.0))  # (1+2+1) * 2 * slope
        np.testing.assert_array_equal(conv(ramp_2d(), kernel_presets(2)["sobel y"]), 0)
        out_y = conv(ramp_2d().T, kernel_presets(2)["sobel y"])  # grows downwards
        np.testing.assert_array_equal(out_y, np.full((7, 5), 16.0))

    def test_laplacian_of_linear_is_zero_and_of_quadratic_constant(self):
        np.testing.assert_array_equal(conv(ramp_2d(), kernel_presets(2)["laplacian"]), 0)
        yy, xx = np.indices((6, 6)).astype(np.float32)
        out = conv(xx**2 + yy**2, kernel_presets(2)["laplacian"])
        np.testing.assert_array_equal(out, np.full((4, 4), 4.0))

    def test_blurs_keep_a_constant_and_smooth_a_checkerboard(self):
        flat = np.full((8, 8), 3.0, np.float32)
        for name in ("box blur 3x3", "gaussian 3x3", "gaussian 5x5"):
            np.testing.assert_allclose(conv(flat, kernel_presets(2)[name]), 3.0, rtol=1e-6)
        board = load_sample("checkerboard")[0]
        assert conv(board, kernel_presets(2)["box blur 3x3"]).std() < board.std()

    def test_sharpen_of_a_constant_is_the_constant(self):
        flat = np.full((5, 5), 2.5, np.float32)
        np.testing.assert_allclose(conv(flat, kernel_presets(2)["sharpen"]), 2.5)

    def test_presets_are_fresh_copies(self):
        kernel_presets(2)["sobel x"][0, 0] = 99
        assert kernel_presets(2)["sobel x"][0, 0] == -1


class TestPresets1D:
    def test_names_and_sums(self):
        presets = kernel_presets(1)
        assert list(presets) == ["identity", "box (moving average)", "gaussian",
                                 "edge [-1, 0, 1]", "second difference [1, -2, 1]"]
        sums = {name: float(k.sum()) for name, k in presets.items()}
        assert sums == pytest.approx({"identity": 1, "box (moving average)": 1, "gaussian": 1,
                                      "edge [-1, 0, 1]": 0, "second difference [1, -2, 1]": 0})
        assert all(k.ndim == 1 and k.dtype == np.float32 for k in presets.values())

    def test_on_a_ramp_and_a_parabola(self):
        p = kernel_presets(1)
        n = np.arange(10, dtype=np.float32)
        np.testing.assert_array_equal(conv(n, p["edge [-1, 0, 1]"]), np.full(8, 2.0))
        np.testing.assert_array_equal(conv(n, p["second difference [1, -2, 1]"]), 0)
        np.testing.assert_array_equal(conv(n**2, p["second difference [1, -2, 1]"]), 2)
        np.testing.assert_allclose(conv(n, p["box (moving average)"]), n[1:-1], rtol=1e-6)
        np.testing.assert_allclose(conv(n, p["gaussian"]), n[2:-2], rtol=1e-6)
        np.testing.assert_array_equal(conv(n, p["identity"]), n[1:-1])

    def test_spike_train_shows_the_kernel_reversed(self):
        # cross-correlation with an impulse writes the kernel backwards
        x = np.zeros(9, np.float32)
        x[4] = 1
        out = conv(x, np.array([1, 2, 3], np.float32))
        assert out.tolist() == [0, 0, 3, 2, 1, 0, 0]

    def test_bad_ndim(self):
        with pytest.raises(SourceError, match="ndim must be 1 or 2, got 0"):
            kernel_presets(0)


class TestCustomAndExpand:
    def test_custom_w_1d_is_the_seeds(self):
        w = custom_w(1, 3)
        assert w.shape == (2, 1, 3) and w.dtype == np.float32
        assert w[:, 0].tolist() == [[1, 1, 1], [0, -1, -2]]
        ex = get_example("puzzlelib-conv1d-basic")
        out = cc.to_numpy(cc.conv1d(arange_input(1, 10)[None], custom_w(1, 2)))
        np.testing.assert_array_equal(out, np.asarray(ex.printed, np.float32))

    def test_custom_w_2d_is_the_seeds(self):
        w = custom_w(2, 3)
        assert w.shape == (2, 1, 3, 3)
        assert w[0, 0].tolist() == np.eye(3).tolist()
        assert w[1, 0].tolist() == [[0, 0, -1], [0, -2, 0], [-3, 0, 0]]
        ex = get_example("puzzlelib-conv2d-size")
        out = cc.to_numpy(cc.conv2d(arange_input(1, 5, 5)[None], custom_w(2, 3)))
        np.testing.assert_array_equal(out, np.asarray(ex.printed, np.float32))

    @pytest.mark.parametrize("size", [0, -1, 2.0, True])
    def test_custom_w_bad_size(self, size):
        with pytest.raises(SourceError, match="customW: size must be a positive integer"):
            custom_w(1, size)

    def test_expand_kernel(self):
        k = kernel_presets(2)["sobel x"]
        w = expand_kernel(k, 4, 3)
        assert w.shape == (4, 3, 3, 3) and w.flags.writeable and w.flags.c_contiguous
        assert all(np.array_equal(w[o, i], k) for o in range(4) for i in range(3))
        # on an RGB ramp, every output map sums the edges of its three inputs
        rgb = np.stack([ramp_2d()] * 3)[None]
        out = cc.to_numpy(cc.conv2d(rgb, expand_kernel(k, 1, 3)))
        np.testing.assert_array_equal(out, np.full((1, 1, 5, 7), 48.0))
        with pytest.raises(SourceError, match="in_per_group must be a positive integer, got 0"):
            expand_kernel(k, 1, 0)


class TestRandomKernel:
    @pytest.mark.parametrize("scheme", ["xavier_uniform", "xavier_normal", "he", "gaussian",
                                        "uniform"])
    def test_equals_the_documented_module_after_np_random_seed(self, scheme):
        w = random_kernel((4, 2, 3, 3), scheme, seed=11, groups=2)
        np.random.seed(11)
        layer = Conv2D(4, 4, 3, initscheme=scheme, groups=2, useBias=False)
        np.testing.assert_array_equal(w, cc.to_numpy(layer.W))
        w1 = random_kernel((2, 1, 5), scheme, seed=3)
        np.random.seed(3)
        layer1 = Conv1D(1, 2, 5, initscheme=scheme, useBias=False)
        np.testing.assert_array_equal(w1, cc.to_numpy(layer1.W).reshape(2, 1, 5))

    def test_seeded_and_leaves_global_state_alone(self):
        a = random_kernel((2, 1, 3), "he", seed=0)
        np.testing.assert_array_equal(a, random_kernel((2, 1, 3), "he", seed=0))
        assert not np.array_equal(a, random_kernel((2, 1, 3), "he", seed=1))
        np.random.seed(123)
        expected = np.random.rand(3)
        np.random.seed(123)
        random_kernel((8, 8, 3, 3), "gaussian", seed=5)
        np.testing.assert_array_equal(np.random.rand(3), expected)

    def test_bounds_and_zeros(self):
        w = random_kernel((16, 4, 3, 3), "xavier_uniform", seed=0)
        limit = np.sqrt(3 / (4 * 9))
        assert w.dtype == np.float32 and np.abs(w).max() <= limit
        assert np.abs(w).max() > 0.9 * limit
        w = random_kernel((8, 2, 3), "uniform", seed=0, wscale=0.5)
        assert np.abs(w).max() <= 0.5
        assert not random_kernel((2, 1, 3), "none", seed=0).any()
        he = random_kernel((64, 16, 3, 3), "he", seed=0)
        assert he.std() == pytest.approx(np.sqrt(2 / (16 * 9)), rel=0.05)

    @pytest.mark.parametrize("kw,msg", [
        (dict(shape=(2, 1, 3), scheme="kaiming"), "scheme must be one of xavier_uniform, "
                                                  "xavier_normal, he, gaussian, uniform, none"),
        (dict(shape=(2, 1, 3), mode="sideways"), "mode must be one of in, out, avg"),
        (dict(shape=(3, 1, 3), groups=2), "C_out must be divisible by groups, got C_out=3"),
        (dict(shape=(2, 1, 3), groups=0), "groups must be a positive integer, got 0"),
        (dict(shape=(2, 3)), r"shape must be \(C_out, C_in/groups, \*kernel\)"),
        (dict(shape=(2, 0, 3)), "positive sizes, got"),
        (dict(shape=(2, 1, 3), seed=-1), "seed must be from 0 to 2"),
    ])
    def test_errors(self, kw, msg):
        with pytest.raises(SourceError, match=msg):
            random_kernel(**kw)
