"""The shape drill through Streamlit's AppTest: the questions shown are the URL's seeded
sequence, an answer typed into the form is graded (right, wrong, unreadable), the reveal shows
the formula with the question's numbers, the score runs to a summary, the sidebar changes the
sequence and the URL, and hostile URL values end in notices, never in an exception."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from test_app_stack import HOSTILE  # noqa: E402
from view_payload import ok, query  # noqa: E402

from app.drill import questions as drill  # noqa: E402

ENTRY = ROOT / "app" / "streamlit_app.py"
TIMEOUT = 60
SCRIPT = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from app.drill.page import drill_page
drill_page()
"""


def page(query: dict | None = None) -> AppTest:
    at = AppTest.from_string(SCRIPT, default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    return ok(at.run())


def shown_code(at) -> str:
    return at.code[0].value


def answer(at, number: int, text: str) -> AppTest:
    at.text_input(key=f"drill.guess.{number}").input(text)
    return ok(at.button(key=f"drill.check.{number}").click().run())


def score_text(at) -> str:
    return at.get("progress")[0].proto.text


def shape_text(shape) -> str:
    return ", ".join(str(v) for v in shape)


def test_the_page_renders_from_the_entry_point_with_the_seeded_question():
    at = ok(AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT).run())
    at.switch_page("pages/drill.py")
    at.query_params.update({"seed": "1234"})
    ok(at.run())
    assert at.title[0].value == "Shape drill"
    assert shown_code(at) == drill.question(1234, 0, 10).code()
    assert query(at) == {"seed": "1234"}


def test_right_and_wrong_answers_are_graded_and_scored():
    at = page({"seed": "1234", "n": "3"})
    q0, q1, q2 = drill.sequence(1234, 3)
    assert "Score **0 / 0**" in score_text(at)
    answer(at, 0, f"({shape_text(q0.answer)})")
    assert at.success[0].value == f"Right: layer(x).shape = {q0.answer}"
    assert "Score **1 / 1**" in score_text(at)
    latex = [x.value for x in at.latex]
    assert any(f"= {q0.out_spatial[0]}" in x and f"{q0.in_spatial[0]} +" in x for x in latex)
    ok(at.button(key="drill.next.0").click().run())
    assert shown_code(at) == q1.code()
    wrong = (q1.batch, q1.out_channels, q1.out_spatial[0] + 1)
    answer(at, 1, shape_text(wrong))
    assert at.error[0].value == f"Not quite: you said {wrong}; layer(x).shape = {q1.answer}"
    assert "Score **1 / 2**" in score_text(at)
    ok(at.button(key="drill.next.1").click().run())
    answer(at, 2, "a shape")  # unreadable: not graded, not counted
    assert "could not read 'a shape' as a shape" in at.warning[0].value
    assert "Score **1 / 2**" in score_text(at) and at.text_input(key="drill.guess.2")
    answer(at, 2, shape_text(q2.out_spatial))  # the spatial sizes alone are enough
    assert at.success and f"the whole shape is {q2.answer}" in " ".join(
        c.value for c in at.caption)
    ok(at.button(key="drill.next.2").click().run())
    assert "Done: 2 of 3 right" in [h.value for h in at.subheader]
    table = at.table[0].value
    assert table[""].tolist() == ["✓", "✗", "✓"]
    assert table["output shape"].tolist() == [str(q.answer) for q in (q0, q1, q2)]
    ok(at.button(key="drill.again").click().run())
    assert shown_code(at) == q0.code() and "Score **0 / 0**" in score_text(at)


def test_a_transposed_question_reveals_the_transposed_formula():
    at = page({"seed": "5", "n": "2", "kind": "transposed"})
    q = drill.question(5, 0, 2, "transposed")
    assert "nn.ConvTranspose" in shown_code(at)
    answer(at, 0, "1, 1, 1, 1")
    latex = " ".join(x.value for x in at.latex)
    assert r"\text{output\_padding}" in latex
    n, k, s, p, d = q.in_spatial[0], q.kernel[0], q.stride[0], q.padding[0], q.dilation[0]
    assert rf"({n} - 1)\cdot {s} - 2\cdot {p} + {d}\cdot({k} - 1)" in latex
    assert f"= {q.out_spatial[0]}" in latex


def test_the_sidebar_changes_the_sequence_and_the_url():
    at = page({"seed": "1234"})
    first = shown_code(at)
    ok(at.number_input(key="drill.seed").set_value(1235).run())
    assert shown_code(at) == drill.question(1235, 0, 10).code() != first
    assert query(at) == {"seed": "1235"}
    ok(at.number_input(key="drill.n").set_value(4).run())
    ok(at.selectbox(key="drill.kind").set_value("transposed").run())
    assert query(at) == {"seed": "1235", "n": "4", "kind": "transposed"}
    assert shown_code(at) == drill.question(1235, 0, 4, "transposed").code()
    ok(at.button(key="drill.new_seed").click().run())
    assert query(at)["seed"] != "1235"
    seed = int(query(at)["seed"])
    assert shown_code(at) == drill.question(seed, 0, 4, "transposed").code()


def test_without_a_seed_one_is_drawn_and_put_in_the_url():
    at = page()
    seed = int(query(at)["seed"])
    assert 0 <= seed < 1_000_000
    assert shown_code(at) == drill.question(seed, 0, 10).code()


def test_out_of_range_and_hostile_url_values_end_in_notices():
    at = page({"seed": "-5", "n": "500"})
    text = " | ".join(c.value for c in at.caption)
    assert "Seed: asked -5, using 0" in text and "Questions: asked 500, using 50" in text
    at = page({"seed": "x", "kind": "both"})
    warnings = " ".join(w.value for w in at.warning)
    assert "ignored seed='x'" in warnings and "ignored kind='both'" in warnings
    rng = np.random.default_rng(4)
    for text in HOSTILE:
        q = {"seed": text, ["n", "kind"][int(rng.integers(2))]: HOSTILE[
            int(rng.integers(len(HOSTILE)))]}
        at = AppTest.from_string(SCRIPT, default_timeout=TIMEOUT)
        at.query_params.update(q)
        at.run()
        assert not at.exception, (q, [e.value for e in at.exception])
        assert at.code, q


def test_progress_lives_in_the_url_and_a_new_session_goes_on_from_it():
    """What a reload, or a failover to another replica, does: a new session with the URL."""
    at = page({"seed": "77", "n": "4"})
    q0, q1, q2, q3 = drill.sequence(77, 4)
    answer(at, 0, shape_text(q0.answer))
    ok(at.button(key="drill.next.0").click().run())
    wrong = (q1.batch, q1.out_channels, *(v + 1 for v in q1.out_spatial))
    answer(at, 1, f"torch.Size([{shape_text(wrong)}])")
    assert query(at) == {"seed": "77", "n": "4", "q": "2",
                         "ans": "_".join(".".join(map(str, s)) for s in (q0.answer, wrong))}
    share = " ".join(c.value for c in at.caption if "Share" in c.value)
    assert "`?seed=77&n=4`" in share and "ans=" not in share  # a link for the class, no answers

    again = page(query(at))  # a fresh session: the question answered, its reveal, the score
    assert shown_code(again) == q1.code()
    assert again.error[0].value == f"Not quite: you said {wrong}; layer(x).shape = {q1.answer}"
    assert "Score **1 / 2**" in score_text(again)
    ok(again.button(key="drill.next.1").click().run())
    assert shown_code(again) == q2.code() and query(again)["q"] == "3"
    answer(again, 2, shape_text(q2.out_spatial))
    ok(again.button(key="drill.next.2").click().run())
    answer(again, 3, shape_text(q3.answer))
    ok(again.button(key="drill.next.3").click().run())
    assert query(again)["q"] == "5" and "Done: 3 of 4 right" in [h.value for h in again.subheader]

    done = page(query(again))  # the summary survives too
    assert "Done: 3 of 4 right" in [h.value for h in done.subheader]
    assert done.table[0].value[""].tolist() == ["✓", "✗", "✓", "✓"]
    ok(done.button(key="drill.again").click().run())
    assert query(done) == {"seed": "77", "n": "4"} and shown_code(done) == q0.code()


def test_hostile_progress_in_the_url_ends_in_notices():
    at = page({"seed": "77", "n": "4", "q": "9", "ans": "1.2.x_" + "9" * 12 + "___7"})
    warnings = " ".join(w.value for w in at.warning)
    assert "ignored q='9': expected 1 to 5" in warnings
    assert "ignored answer 1 '1.2.x'" in warnings and "ignored answer 2" in warnings
    assert "ignored ans beyond question 4" in warnings
    assert shown_code(at) == drill.question(77, 0, 4).code() and "Score **0 / 0**" in score_text(at)
    at = page({"seed": "77", "ans": "1" * 5000})
    assert "ignored ans: 5,000 characters" in " ".join(w.value for w in at.warning)
    for text in HOSTILE:
        at = AppTest.from_string(SCRIPT, default_timeout=TIMEOUT)
        at.query_params.update({"seed": "3", "q": text, "ans": text})
        at.run()
        assert not at.exception, (text, [e.value for e in at.exception])
