"""The shape-drill page (``drill_page()``): one question at a time — a layer and an input, the
student types the output shape, then sees right or wrong and the formula with the numbers of
the question — with a running score.  The questions are :func:`app.drill.sequence` of the
URL's ``seed``, ``n`` and ``kind``: one link gives a whole class the same drill.

Server-side Streamlit: a form per question.  The answers are kept in the session and in the
URL (``q``, ``ans``: :func:`app.drill.progress_to_query`), which a new session reads first: a
reload, or a class server that moved the student to another replica after a fault, goes on
where the student was.
"""

from __future__ import annotations

import secrets
from dataclasses import replace

import pandas as pd
import streamlit as st

from app.drill import questions as drill
from app.shared.controls import Notices, choice, int_input
from app.shared.frame import page_intro, show_notices
from app.shared.navigation import sync_query_params

SETTINGS_KEY = "drill.settings"
RUN_KEY = "drill.run"


def k(name: str) -> str:
    """The session-state key of one of this page's widgets."""
    return f"drill.{name}"


# ------------------------------------------------------------------------------ settings

def page_settings() -> tuple[drill.DrillSettings, list[str]]:
    """Kept from earlier in the session, else from the URL (a seed drawn when it has none),
    with the progress the URL holds."""
    problems: list[str] = []
    if SETTINGS_KEY not in st.session_state:
        s, problems = drill.from_query(st.query_params)
        if s.seed is None:
            s = replace(s, seed=secrets.randbelow(1_000_000))
        clamped = replace(s, seed=min(max(s.seed, 0), drill.MAX_SEED),  # as the controls
                          n=min(max(s.n, 1), drill.MAX_QUESTIONS))        # will clamp them
        progress, more = drill.progress_from_query(st.query_params, clamped.n)
        st.session_state[RUN_KEY] = run_from_progress(clamped, progress)
        st.session_state[SETTINGS_KEY] = s
        st.session_state[k("seed")], st.session_state[k("n")] = s.seed, s.n
        st.session_state[k("kind")] = s.kind
        problems += more
    return st.session_state[SETTINGS_KEY], problems


def run_from_progress(s: drill.DrillSettings, p: drill.Progress) -> dict:
    """The run of ``s`` the URL's progress describes: each answer graded again."""
    texts = {i: ", ".join(str(v) for v in guess) for i, guess in p.answers.items()}
    return {"key": (s.seed, s.n, s.kind), "current": p.current, "texts": texts,
            "grades": {i: drill.grade(drill.question(s.seed, i, s.n, s.kind), text)
                       for i, text in texts.items()}}


def progress_of(run: dict) -> drill.Progress:
    return drill.Progress(run["current"], {i: g.guess for i, g in run["grades"].items()})


def new_seed() -> None:
    st.session_state[k("seed")] = secrets.randbelow(1_000_000)


def controls(notices: Notices) -> drill.DrillSettings:
    st.subheader("Drill")
    seed = int_input("Seed", k("seed"), 0, drill.MAX_SEED, notices,
                     help="the same seed gives the same questions on every machine")
    st.button("New seed", key=k("new_seed"), on_click=new_seed, icon=":material/casino:")
    n = int_input("Questions", k("n"), 1, drill.MAX_QUESTIONS, notices, "the drill's limit")
    kind = choice("Layers asked about", k("kind"), list(drill.KINDS), drill.KINDS.get,
                  notices=notices, help="mixed: the first half forward (the basics), then "
                  "transposed layers among them")
    s = drill.DrillSettings(seed=seed, n=n, kind=kind)
    link = "&".join(f"{key}={value}" for key, value in drill.to_query(s).items())
    st.caption(f"Share `?{link}` after this page's address: everyone who opens it gets the same "
               "questions. (This page's own URL also holds your answers.)")
    return s


# ------------------------------------------------------------------------------ the run

def current_run(s: drill.DrillSettings) -> dict:
    """This session's answers to the sequence of ``s`` (a new sequence starts afresh)."""
    key = (s.seed, s.n, s.kind)
    run = st.session_state.get(RUN_KEY)
    if run is None or run["key"] != key:
        run = {"key": key, "current": 0, "grades": {}, "texts": {}}
        st.session_state[RUN_KEY] = run
    return run


def go_to(number: int) -> None:
    st.session_state[RUN_KEY]["current"] = number


def restart() -> None:
    st.session_state[RUN_KEY].update(current=0, grades={}, texts={})
    for key in [key for key in st.session_state if str(key).startswith(k("guess."))]:
        del st.session_state[key]


def restart_with_new_seed() -> None:
    new_seed()
    restart()


def score_line(run: dict, n: int) -> None:
    right, answered = drill.score(run["grades"].values())
    st.progress(answered / n, text=f"Score **{right} / {answered}** · {answered} of {n} "
                                   f"answered")


def check(q: drill.Question) -> None:
    """The Check button's callback: grade the typed answer before the page is drawn."""
    text = st.session_state.get(k(f"guess.{q.number}"), "")
    g = drill.grade(q, text)
    if g.status == "unreadable":
        st.session_state[k("unreadable")] = g.note
    else:
        run = st.session_state[RUN_KEY]
        run["grades"][q.number] = g
        run["texts"][q.number] = str(text)


def show_question(q: drill.Question, run: dict, n: int) -> None:
    i = q.number
    what = "transposed convolution" if q.kind == "transposed" else "convolution"
    st.subheader(f"Question {i + 1} of {n} — a {q.ndim}-D {what}")
    st.code(q.code(), language="python")
    graded = run["grades"].get(i)
    if graded is None:
        with st.form(key=k(f"form.{i}"), border=False):
            st.text_input("Your prediction of layer(x).shape", key=k(f"guess.{i}"),
                          placeholder="e.g. " + ", ".join(str(v) for v in q.in_shape))
            st.form_submit_button("Check", key=k(f"check.{i}"), type="primary",
                                  on_click=check, args=(q,))
        note = st.session_state.pop(k("unreadable"), None)
        if note:
            st.warning(note, icon=":material/help:")
        return
    typed = run["texts"].get(i, "")[:80].replace("`", "'")
    st.markdown(f"Your prediction: `{typed}`")
    reveal(q, graded)
    st.button("See your score" if i + 1 >= n else "Next question", key=k(f"next.{i}"),
              on_click=go_to, args=(i + 1,), type="primary", icon=":material/arrow_forward:")


def reveal(q: drill.Question, g: drill.Grade) -> None:
    answer = q.answer
    if g.status == "right":
        st.success(f"Right: layer(x).shape = {answer}", icon=":material/check_circle:")
    else:
        st.error(f"Not quite: you said {g.guess}; layer(x).shape = {answer}",
                 icon=":material/cancel:")
    if g.note:
        st.caption(g.note)
    st.markdown("**Why** — per spatial axis:")
    st.latex(q.rule())
    for latex, _ in q.formulas():
        st.latex(latex)
    st.caption(f"N = {q.batch} stays the batch size; C_out = {q.out_channels} is the layer's "
               f"out_channels (C_in = {q.in_channels} only has to match the input).")


def summary(questions: list, run: dict) -> None:
    right, _ = drill.score(run["grades"].values())
    st.subheader(f"Done: {right} of {len(questions)} right")
    rows = []
    for q in questions:
        g = run["grades"].get(q.number)
        rows.append({"#": q.number + 1, "layer": q.code().splitlines()[1].split(" = ", 1)[1],
                     "input": str(q.in_shape),
                     "your answer": "—" if g is None else str(g.guess),
                     "output shape": str(q.answer),
                     "": "✓" if g is not None and g.status == "right" else "✗"})
    st.table(pd.DataFrame(rows).set_index("#"))
    c1, c2 = st.columns(2)
    c1.button("Again, same questions", key=k("again"), on_click=restart,
              icon=":material/replay:")
    c2.button("A new sequence", key=k("fresh"), on_click=restart_with_new_seed,
              icon=":material/casino:")


# ------------------------------------------------------------------------------ the page

def drill_page() -> None:
    """The shape drill: controls in the sidebar, one question (or the summary) in the page."""
    s, problems = page_settings()
    st.title("Shape drill")
    page_intro("Predict the shape a layer gives, then check: the answer comes with the formula "
               "and your numbers in it. Type the whole shape (N, C, …) or just the spatial "
               "sizes.", problems)
    notices = Notices()
    with st.sidebar:
        s = controls(notices)
    show_notices(notices)
    st.session_state[SETTINGS_KEY] = s
    questions = drill.sequence(s.seed, s.n, s.kind)
    run = current_run(s)
    progress = st.container()  # drawn above the question, filled once it is graded
    if run["current"] >= s.n:
        summary(questions, run)
    else:
        show_question(questions[run["current"]], run, s.n)
    with progress:
        score_line(run, s.n)
    sync_query_params({**drill.to_query(s), **drill.progress_to_query(progress_of(run))})
