"""The shape drill: seeded sequences of layers whose output shape the student predicts.

Pure functions, no Streamlit.  A sequence is a function of ``(seed, n, kind)`` alone: every draw
is a SHA-256 of the seed, the question number and the draw's name, so a URL such as
``?seed=1234&n=10`` gives a whole class the same questions on any machine and Python version.

The student's progress lives in the URL too (:func:`progress_to_query`: the question shown and
the shapes checked so far), so a reload, or a server that fails over to another replica, finds
it there.

Questions get harder along the sequence: the first third are 1-D with stride ≤ 2 and no
dilation, the middle third add 2-D and dilation, the last third draw every axis on its own.
``kind``: ``"forward"`` (convolutions only), ``"transposed"`` (transposed convolutions only) or
``"mixed"`` (the default: the basics first, then — from the middle of the sequence on — a
transposed layer about every other question).  The answers come from the core
(:func:`convcore.explain_shape`, :func:`convcore.transpose_output_size`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import convcore as cc

KINDS = {"mixed": "forward, then transposed", "forward": "forward only",
         "transposed": "transposed only"}
MAX_QUESTIONS = 50
MAX_SEED = 2**31 - 1
DEFAULT_N = 10
AXES = {1: ("L",), 2: ("H", "W")}
BATCHES = (1, 2, 4, 8, 16, 32)
IN_CHANNELS = (1, 3, 8, 16, 32, 64)
OUT_CHANNELS = (4, 8, 16, 32, 64, 128)
_SEPARATORS = re.compile(r"[\s,x×*;]+")


class Draws:
    """Whole numbers drawn from ``(seed, question, attempt, name)``: the same everywhere."""

    def __init__(self, seed: int, number: int, attempt: int = 0):
        self.prefix = f"convcore-drill/{seed}/{number}/{attempt}/"

    def int(self, name: str, lo: int, hi: int) -> int:
        """A whole number in ``[lo, hi]``."""
        digest = hashlib.sha256((self.prefix + name).encode()).digest()
        return lo + int.from_bytes(digest[:8], "big") % (hi - lo + 1)

    def pick(self, name: str, options):
        return options[self.int(name, 0, len(options) - 1)]

    def chance(self, name: str, percent: int) -> bool:
        return self.int(name, 0, 99) < percent


@dataclass(frozen=True)
class Question:
    """One layer applied to one input; the student predicts the output's shape."""

    number: int  # from 0
    kind: str  # "forward" or "transposed"
    ndim: int
    batch: int
    in_channels: int
    out_channels: int
    in_spatial: tuple
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    output_padding: tuple = field(default=())

    @property
    def in_shape(self) -> tuple:
        return (self.batch, self.in_channels, *self.in_spatial)

    @property
    def out_spatial(self) -> tuple:
        """The output's spatial sizes, from the core."""
        if self.kind == "transposed":
            return tuple(cc.transpose_output_size(n, k, s, p, op, d) for n, k, s, p, op, d in
                         zip(self.in_spatial, self.kernel, self.stride, self.padding,
                             self.output_padding, self.dilation))
        return cc.explain_shape(self.in_spatial, self.kernel, self.stride, self.padding,
                                self.dilation).out_spatial

    @property
    def answer(self) -> tuple:
        """The whole output shape ``(N, C_out, *spatial)``."""
        return (self.batch, self.out_channels, *self.out_spatial)

    def layer(self) -> str:
        """The layer in PyTorch: ``nn.Conv2d(3, 8, kernel_size=3, stride=2)``."""
        name = f"nn.Conv{'Transpose' if self.kind == 'transposed' else ''}{self.ndim}d"
        args = [str(self.in_channels), str(self.out_channels),
                f"kernel_size={_arg(self.kernel)}"]
        for key, value, default in (("stride", self.stride, 1), ("padding", self.padding, 0),
                                    ("output_padding", self.output_padding, 0),
                                    ("dilation", self.dilation, 1)):
            if value and any(v != default for v in value):
                args.append(f"{key}={_arg(value)}")
        return f"{name}({', '.join(args)})"

    def code(self) -> str:
        """The question as PyTorch code."""
        return (f"x = torch.randn{self.in_shape}\n"
                f"layer = {self.layer()}\n"
                f"layer(x).shape   # → ?")

    def formulas(self) -> list[tuple[str, str]]:
        """Per spatial axis ``(latex, text)``: the shape formula with this question's numbers."""
        if self.kind == "forward":
            shape = cc.explain_shape(self.in_spatial, self.kernel, self.stride, self.padding,
                                     self.dilation)
            return [(a.latex, a.text) for a in shape.axes]
        rows = []
        for name, n, k, s, p, op, d, out in zip(AXES[self.ndim], self.in_spatial, self.kernel,
                                                self.stride, self.padding, self.output_padding,
                                                self.dilation, self.out_spatial):
            latex = (rf"{name}_{{out}} = ({n} - 1)\cdot {s} - 2\cdot {p} + {d}\cdot({k} - 1) + "
                     rf"{op} + 1 = {(n - 1) * s} - {2 * p} + {d * (k - 1)} + {op} + 1 = {out}")
            text = (f"{name}_out = ({n} − 1)·{s} − 2·{p} + {d}·({k} − 1) + {op} + 1 = "
                    f"{(n - 1) * s} − {2 * p} + {d * (k - 1)} + {op} + 1 = {out}")
            rows.append((latex, text))
        return rows

    def rule(self) -> str:
        """The general formula, in LaTeX."""
        if self.kind == "forward":
            return (r"L_{out} = \left\lfloor \frac{L_{in} + 2p - d\,(k-1) - 1}{s} "
                    r"\right\rfloor + 1")
        return r"L_{out} = (L_{in} - 1)\,s - 2p + d\,(k-1) + \text{output\_padding} + 1"


def _arg(values: tuple) -> str:
    return str(values[0]) if len(set(values)) == 1 else str(tuple(values))


def _stage(number: int, n: int) -> int:
    """0 for the first third of the sequence, 1 for the middle, 2 for the last."""
    return min(2, 3 * number // max(n, 1))


def is_transposed(seed: int, number: int, n: int, kind: str) -> bool:
    if kind == "transposed":
        return True
    if kind == "forward" or number < max(1, n // 2):
        return False
    return number == max(1, n // 2) or Draws(seed, number).chance("transposed", 50)


def _axes(d: Draws, stage: int, ndim: int, name: str, lo: int, hi) -> tuple:
    """One value per axis: the same on both axes before the last stage.  ``hi`` may be one
    bound per axis."""
    his = hi if isinstance(hi, tuple) else (hi,) * ndim
    if stage < 2:
        return (d.int(name, lo, min(his)),) * ndim
    return tuple(d.int(f"{name}.{a}", lo, h) for a, h in enumerate(his))


def question(seed: int, number: int, n: int = DEFAULT_N, kind: str = "mixed") -> Question:
    """Question ``number`` (from 0) of the sequence ``(seed, n, kind)``.

    Padding is drawn no larger than the dilated kernel's reach ``d·(k − 1)``, as layers use it.
    """
    stage = _stage(number, n)
    transposed = is_transposed(seed, number, n, kind)
    for attempt in range(1000):
        d = Draws(seed, number, attempt)
        ndim = 1 if stage == 0 else (d.pick("ndim", (1, 2)) if stage == 1 else 2)
        common = dict(number=number, ndim=ndim, batch=d.pick("batch", BATCHES),
                      in_channels=d.pick("cin", IN_CHANNELS),
                      out_channels=d.pick("cout", OUT_CHANNELS))
        if transposed:
            kernel = _axes(d, stage, ndim, "kernel", 2, 5)
            stride = _axes(d, stage, ndim, "stride", 1, 3)
            dilation = _axes(d, stage, ndim, "dilation", 1, 1 if stage < 2 else 2)
            reach = tuple(min(2, dd * (kk - 1)) for kk, dd in zip(kernel, dilation))
            q = Question(kind="transposed", in_spatial=_axes(d, 2, ndim, "in", 2, 16),
                         kernel=kernel, stride=stride, padding=_axes(d, stage, ndim, "pad", 0,
                                                                     reach),
                         dilation=dilation,
                         output_padding=tuple(
                             d.int(f"op.{a}", 0, max(s, dd) - 1) if d.chance(f"use-op.{a}", 30)
                             else 0 for a, (s, dd) in enumerate(zip(stride, dilation))),
                         **common)
        else:
            kernel = _axes(d, stage, ndim, "kernel", 1, (5, 7, 7)[stage])
            dilation = _axes(d, stage, ndim, "dilation", 1, (1, 2, 3)[stage])
            reach = tuple(min((2, 3, 3)[stage], dd * (kk - 1)) for kk, dd in zip(kernel, dilation))
            q = Question(kind="forward", in_spatial=_axes(d, 2, ndim, "in", 5, (32, 64, 64)[stage]),
                         kernel=kernel, stride=_axes(d, stage, ndim, "stride", 1, (2, 3, 4)[stage]),
                         padding=_axes(d, stage, ndim, "pad", 0, reach), dilation=dilation,
                         output_padding=(0,) * ndim, **common)
        try:
            if all(v >= 1 for v in q.out_spatial):
                return q
        except cc.ConvError:
            pass
    raise AssertionError(f"no valid question after 1000 draws (seed {seed}, number {number})")


def sequence(seed: int, n: int = DEFAULT_N, kind: str = "mixed") -> list[Question]:
    """The whole sequence: ``n`` questions."""
    return [question(seed, i, n, kind) for i in range(n)]


# ------------------------------------------------------------------------------ answers

def parse_shape(text: str) -> tuple | None:
    """A typed shape: ``(8, 16, 16, 16)``, ``8 16 16 16``, ``8x16x16x16``,
    ``torch.Size([8, 16, 16, 16])``, or just the spatial sizes; None when it is not one."""
    text = str(text).strip().lower().replace("torch.size", "")
    text = text.strip().strip("()[] ").strip("()[] ")
    parts = [p for p in _SEPARATORS.split(text) if p]
    if not parts or len(parts) > 6:
        return None
    if not all(p.isascii() and p.isdigit() and len(p) <= 9 for p in parts):
        return None
    return tuple(int(p) for p in parts)


@dataclass(frozen=True)
class Grade:
    """How a typed answer compares with the question's."""

    status: str  # "right", "wrong" or "unreadable"
    guess: tuple | None
    note: str = ""


def grade(q: Question, text: str) -> Grade:
    """Right when the whole shape, or the spatial sizes alone, equal the answer."""
    guess = parse_shape(text)
    if guess is None:
        return Grade("unreadable", None, f"could not read {str(text)[:40]!r} as a shape: type "
                     f"numbers such as {', '.join(str(v) for v in q.in_shape)}")
    answer = q.answer
    if len(guess) == len(answer):
        if guess == answer:
            return Grade("right", guess)
        if guess[2:] == answer[2:]:
            wrong = [f"{name} is {v}" for name, v, g in zip(
                ("N (the batch: it never changes)", "C_out (the layer's out_channels)"),
                answer[:2], guess[:2]) if v != g]
            return Grade("wrong", guess, "the spatial sizes are right; " + ", ".join(wrong))
        return Grade("wrong", guess)
    if len(guess) == q.ndim:
        if guess == answer[2:]:
            return Grade("right", guess, f"the whole shape is {answer}")
        return Grade("wrong", guess)
    return Grade("wrong", guess, f"expected {len(answer)} numbers (N, C_out and "
                 f"{q.ndim} spatial size{'s' if q.ndim > 1 else ''}) or the "
                 f"{q.ndim} spatial size{'s' if q.ndim > 1 else ''} alone")


def score(grades) -> tuple[int, int]:
    """(right, answered) over the graded answers (unreadable ones do not count)."""
    counted = [g for g in grades if g.status != "unreadable"]
    return sum(g.status == "right" for g in counted), len(counted)


# ------------------------------------------------------------------------------ URL

@dataclass(frozen=True)
class DrillSettings:
    seed: int | None = None  # None: the page draws one and puts it in the URL
    n: int = DEFAULT_N
    kind: str = "mixed"


def to_query(s: DrillSettings) -> dict[str, str]:
    q = {} if s.seed is None else {"seed": str(s.seed)}
    if s.n != DEFAULT_N:
        q["n"] = str(s.n)
    if s.kind != "mixed":
        q["kind"] = s.kind
    return q


def _whole(text) -> int:
    text = str(text).strip()
    if not (text.isascii() and text.lstrip("-").isdigit() and len(text) <= 12):
        raise ValueError("expected a whole number")
    return int(text)


def from_query(query) -> tuple[DrillSettings, list[str]]:
    """Settings from query parameters and what was ignored; range clamps are the page's."""
    problems: list[str] = []
    values: dict = {}
    for key, parse in (("seed", _whole), ("n", _whole), ("kind", str)):
        if key not in query:
            continue
        text = query[key]
        try:
            value = parse(text)
            if key == "kind" and value not in KINDS:
                raise ValueError(f"expected one of {', '.join(KINDS)}")
        except ValueError as e:
            problems.append(f"ignored {key}={str(text)[:80]!r}: {e}")
            continue
        values[key] = value
    return DrillSettings(**values), problems


# ------------------------------------------------------------------------------ progress

MAX_PROGRESS_CHARS = 4000  # 50 answers of 6 nine-digit numbers fit; anything longer is refused
_URL_SHAPE = re.compile(r"\d{1,9}(?:\.\d{1,9}){0,5}")  # what parse_shape accepts, dotted


@dataclass(frozen=True)
class Progress:
    """Where a student is in a sequence: the question shown (from 0; ``n`` is the summary)
    and the shapes checked so far, ``{question number: the numbers typed}``."""

    current: int = 0
    answers: dict = field(default_factory=dict)


def progress_to_query(p: Progress) -> dict[str, str]:
    """``q``: the question shown, from 1 (n + 1: the summary); ``ans``: each question's
    checked shape, numbers joined by ``.``, questions by ``_`` (empty: not answered).

    >>> progress_to_query(Progress(2, {0: (8, 16, 30), 1: (4,)}))
    {'q': '3', 'ans': '8.16.30_4'}
    >>> progress_to_query(Progress(1, {2: (5, 5)}))
    {'q': '2', 'ans': '__5.5'}
    """
    q = {"q": str(p.current + 1)} if p.current else {}
    if p.answers:
        last = max(p.answers)
        q["ans"] = "_".join(".".join(str(v) for v in p.answers.get(i, ()))
                            for i in range(last + 1))
    return q


def progress_from_query(query, n: int) -> tuple[Progress, list[str]]:
    """The progress a URL holds for a sequence of ``n`` questions, and what was ignored.

    >>> progress_from_query({"q": "3", "ans": "8.16.30_4"}, 10)
    (Progress(current=2, answers={0: (8, 16, 30), 1: (4,)}), [])
    >>> progress_from_query({"q": "99", "ans": "1.x__2"}, 10)[1]
    ["ignored q='99': expected 1 to 11", "ignored answer 1 '1.x' in ans: not a shape"]
    """
    problems: list[str] = []
    current, answers = 0, {}
    if "q" in query:
        try:
            value = _whole(query["q"])
            if not 1 <= value <= n + 1:
                raise ValueError(f"expected 1 to {n + 1}")
            current = value - 1
        except ValueError as e:
            problems.append(f"ignored q={str(query['q'])[:80]!r}: {e}")
    text = str(query.get("ans", ""))
    if len(text) > MAX_PROGRESS_CHARS:
        problems.append(f"ignored ans: {len(text):,} characters, more than "
                        f"{MAX_PROGRESS_CHARS:,}")
        text = ""
    entries = text.split("_") if text else []
    if len(entries) > n:
        problems.append(f"ignored ans beyond question {n}: the sequence has {n}")
    for i, entry in enumerate(entries[:n]):
        if not entry:
            continue
        if not _URL_SHAPE.fullmatch(entry):
            problems.append(f"ignored answer {i + 1} {entry[:40]!r} in ans: not a shape")
            continue
        answers[i] = tuple(int(v) for v in entry.split("."))
    return Progress(current, answers), problems
