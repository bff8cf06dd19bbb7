"""The shape drill's pure layer (:mod:`app.drill`): every answer against PyTorch, the formula
with the question's numbers, seeded sequences that are the same in any process, the order of
difficulty, and how typed answers are read and graded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.drill import questions as drill  # noqa: E402

CONV = {1: F.conv1d, 2: F.conv2d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d}


def torch_shape(q: drill.Question) -> tuple:
    """The output shape PyTorch gives (meta tensors: shapes only, no arithmetic)."""
    x = torch.empty(q.in_shape, device="meta")
    if q.kind == "transposed":
        w = torch.empty((q.in_channels, q.out_channels, *q.kernel), device="meta")
        y = CONV_T[q.ndim](x, w, stride=q.stride, padding=q.padding,
                           output_padding=q.output_padding, dilation=q.dilation)
    else:
        w = torch.empty((q.out_channels, q.in_channels, *q.kernel), device="meta")
        y = CONV[q.ndim](x, w, stride=q.stride, padding=q.padding, dilation=q.dilation)
    return tuple(y.shape)


def test_the_drill_module_is_pure():
    from test_app_scene import imported_modules

    roots = {n.split(".")[0] for n in imported_modules(ROOT / "app" / "drill" / "questions.py")}
    assert roots <= {"__future__", "hashlib", "re", "dataclasses", "convcore"}, roots


def test_every_answer_is_the_shape_pytorch_gives():
    checked = 0
    for seed in range(40):
        for kind in drill.KINDS:
            for q in drill.sequence(seed, 12, kind):
                assert q.answer == torch_shape(q), q
                checked += 1
    assert checked == 40 * 3 * 12


def test_the_code_shown_is_the_question():
    for q in drill.sequence(7, 12, "mixed"):
        namespace = {"torch": torch, "nn": torch.nn}
        code = q.code().replace("layer(x).shape   # → ?", "shape = tuple(layer(x).shape)")
        exec(code.replace("torch.randn", "torch.zeros"), namespace)
        assert namespace["shape"] == q.answer, q.code()


def test_the_formula_carries_the_numbers_of_the_question():
    for q in drill.sequence(3, 20, "mixed") + drill.sequence(4, 6, "transposed"):
        rows = q.formulas()
        assert len(rows) == q.ndim
        names = ("L",) if q.ndim == 1 else ("H", "W")
        for (latex, text), name, n, k, s, p, d, out in zip(
                rows, names, q.in_spatial, q.kernel, q.stride, q.padding, q.dilation,
                q.out_spatial):
            assert text.startswith(f"{name}_out = ") and latex.startswith(f"{name}_{{out}} = ")
            assert text.endswith(f"= {out}") and latex.endswith(f"= {out}")
            if q.kind == "forward":
                assert f"({n} + {p} + {p} − {d}·({k}−1) − 1) / {s}" in text, text
            else:
                assert f"({n} − 1)·{s} − 2·{p} + {d}·({k} − 1)" in text, text
                middle = (n - 1) * s - 2 * p + d * (k - 1)
                assert eval(text.split(" = ")[2].replace("−", "-")) == out
                assert middle + 1 <= out


def test_a_seed_gives_the_same_sequence_in_any_process():
    """Another interpreter with another hash seed draws the very same questions."""
    here = [repr(q) for q in drill.sequence(1234, 10, "mixed")]
    script = ("import json, sys; sys.path.insert(0, sys.argv[1]); "
              "from app.drill import questions as drill; "
              "print(json.dumps([repr(q) for q in drill.sequence(1234, 10, 'mixed')]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", script, str(ROOT)], capture_output=True,
                         text=True, env=env, check=True, timeout=120).stdout
    assert json.loads(out) == here


def test_other_seeds_give_other_sequences_and_a_question_does_not_depend_on_n():
    first = drill.sequence(1234, 10)
    assert first == drill.sequence(1234, 10)
    others = [drill.sequence(seed, 10) for seed in (1235, 1, 999_999)]
    assert all(o != first for o in others)
    assert len({repr(o) for o in others}) == 3
    assert len({(q.in_shape, q.kernel) for q in first}) == 10  # no question repeats
    assert drill.question(1234, 3, 10) == first[3]


def test_difficulty_grows_and_transposed_layers_come_after_the_basics():
    for seed in range(30):
        mixed = drill.sequence(seed, 12, "mixed")
        assert all(q.kind == "forward" for q in mixed[:6])  # the basics first
        assert mixed[6].kind == "transposed"
        assert all(q.ndim == 1 and q.dilation == (1,) and q.stride[0] <= 2 for q in mixed[:4])
        assert all(q.kind == "forward" for q in drill.sequence(seed, 12, "forward"))
        assert all(q.kind == "transposed" for q in drill.sequence(seed, 12, "transposed"))
    kinds = [q.kind for seed in range(60) for q in drill.sequence(seed, 12)[7:]]
    assert 0.3 < kinds.count("transposed") / len(kinds) < 0.7
    last = [q for seed in range(60) for q in drill.sequence(seed, 9, "forward")[6:]]
    assert any(q.kernel[0] != q.kernel[1] or q.stride[0] != q.stride[1] for q in last)
    assert any(max(q.dilation) > 1 for q in last)
    assert any(max(q.output_padding) > 0 for seed in range(30)
               for q in drill.sequence(seed, 6, "transposed"))


@pytest.mark.parametrize("text, shape", [
    ("(8, 16, 16, 16)", (8, 16, 16, 16)), ("8,16,16,16", (8, 16, 16, 16)),
    ("8 16 16 16", (8, 16, 16, 16)), ("8x16x16x16", (8, 16, 16, 16)),
    ("torch.Size([8, 16, 16, 16])", (8, 16, 16, 16)), (" [4, 7] ", (4, 7)), ("11", (11,)),
    ("16 × 16", (16, 16)),
    ("", None), ("   ", None), ("eight", None), ("1.5, 2", None), ("-1, 3", None),
    ("1e3", None), ("１２", None), ("٣", None), ("9" * 40, None), ("1,2,3,4,5,6,7", None),
    ("\x00", None), ("(1, 2", (1, 2)),
])
def test_typed_shapes_are_read_or_refused(text, shape):
    assert drill.parse_shape(text) == shape


def test_grading():
    q = drill.Question(0, "forward", 2, 8, 3, 16, (32, 32), (3, 3), (2, 2), (1, 1), (1, 1),
                       (0, 0))
    assert q.answer == (8, 16, 16, 16)  # (32 + 2 - 2 - 1) // 2 + 1
    assert drill.grade(q, "(8, 16, 16, 16)").status == "right"
    spatial = drill.grade(q, "16, 16")
    assert spatial.status == "right" and "(8, 16, 16, 16)" in spatial.note
    channels = drill.grade(q, "8, 3, 16, 16")
    assert channels.status == "wrong" and "spatial sizes are right" in channels.note
    assert "C_out (the layer's out_channels) is 16" in channels.note
    off = drill.grade(q, "8, 16, 15, 15")
    assert off.status == "wrong" and off.guess == (8, 16, 15, 15)
    count = drill.grade(q, "16")
    assert count.status == "wrong" and "expected 4 numbers" in count.note
    unread = drill.grade(q, "sixteen")
    assert unread.status == "unreadable" and unread.guess is None
    assert drill.score([drill.grade(q, t) for t in ("16,16", "1", "x", "8,16,16,16")]) == (2, 3)


def test_url_values_are_read_or_reported():
    s, problems = drill.from_query({"seed": "1234", "n": "5", "kind": "forward"})
    assert s == drill.DrillSettings(1234, 5, "forward") and not problems
    assert drill.to_query(s) == {"seed": "1234", "n": "5", "kind": "forward"}
    assert drill.from_query(drill.to_query(drill.DrillSettings(7)))[0] == \
        drill.DrillSettings(7)
    for key, text in (("seed", "abc"), ("seed", "9" * 40), ("n", "1.5"), ("kind", "both"),
                      ("seed", "１２"), ("n", "\x00")):
        s, problems = drill.from_query({key: text})
        assert s == drill.DrillSettings() and problems[0].startswith(f"ignored {key}=")
