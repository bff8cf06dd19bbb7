"""Convolution arithmetic gallery: the canonical cases of Dumoulin & Visin's guide, each with
its transposed twin, one click from the explorer and the transposed page (``app.gallery``)."""

from __future__ import annotations

import streamlit as st

from app.gallery import cases as gallery
from app.shared.controls import open_in_explorer

GUIDE = "https://arxiv.org/abs/1603.07285"
ANIMATIONS = "https://github.com/vdumoulin/conv_arithmetic"


def overview() -> None:
    """Every case in one table (five columns: it fits a phone): its numbers, the output sizes
    from convcore, both links."""
    lines = ["| case | i,k,s,p,d | o | twin: o′ | open |", "|---|---|---:|---:|---|"]
    for c in gallery.CASES:
        forward, twin = c.links()
        lines.append(f"| [{c.title}](#{c.slug.replace('_', '-')}) | "
                     f"{c.i},{c.k},{c.s},{c.p},{c.d} | **{c.out_size()}** | "
                     f"**{c.twin_size()}** | [explorer]({forward}) · [twin]({twin}) |")
    st.markdown("The twin's input is the convolution's output (i′ = o); its output o′ is the "
                "convolution's input size again. The links open a new tab.")
    st.markdown("\n".join(lines))


def side(title: str, numbers: str, question, formula: str, rule: str, label: str, link: str,
         page: str, settings, key: str) -> None:
    """One layer of a case: its numbers, the guide's rule and the core's formula with the
    numbers in it, the PyTorch layer, and the way to open it."""
    st.markdown(f"**{title}** · {numbers}")
    st.caption(rule)
    st.latex(formula)
    _, text = question.formulas()[0]  # square: W is the same as H
    st.markdown(f"`{text}`")  # a code span wraps in a half-width column; LaTeX would not
    st.code(question.layer(), language="python", wrap_lines=True)
    if st.button(label, key=key, icon=":material/open_in_new:"):
        open_in_explorer(settings, page)
    st.caption(f"Link: [{link}]({link})")


def show_case(c: gallery.Case) -> None:
    forward, twin = c.questions()
    link, twin_link = c.links()
    o, a = c.out_size(), c.output_padding()
    with st.container(border=True, key=f"case-{c.slug}"):
        st.subheader(c.title, anchor=c.slug.replace("_", "-"))
        left, right = st.columns(2)
        with left:
            side("Convolution", f"i = {c.i}, k = {c.k}, s = {c.s}, p = {c.p}, d = {c.d} → "
                 f"**o = {o}**", forward, c.formula, f"The guide's Relationship {c.rule} "
                 f"(`{c.slug}`), then convcore.explain_shape with these numbers:",
                 "Open in the 2-D explorer", link, "e", c.forward(), f"gallery.{c.slug}")
        with right:
            rule = (f"The guide's Relationship {c.twin_rule} (`{c.slug}_transposed`)"
                    if c.twin_rule else "PyTorch's ConvTranspose2d formula (the guide draws no "
                    "dilated transposed convolution)")
            side("Transposed twin", f"i′ = {o}, same k, s, p, d" + (f", output_padding {a}"
                 if a else "") + f" → **o′ = {c.twin_size()}**", twin, c.twin_formula,
                 rule + ", then convcore.transpose_output_size:", "Open in the transposed page",
                 twin_link, "t", c.twin(), f"gallery.{c.slug}.t")
            gather = c.equivalent()
            (lo, hi), _ = gather.pads
            how = [f"with {c.s - 1} zero{'s' if c.s > 2 else ''} between cells"] * (c.s > 1)
            how += [f"padded {lo} before and {hi} after on each axis"] * bool(lo or hi)
            st.caption(f"As the guide draws it (the page's gather view): the kernel, flipped, "
                       f"slides with stride 1 over the {o}×{o} input "
                       + ", ".join(how + [f"{'×'.join(map(str, gather.values.shape[2:]))} "
                                          "in all."]))


def gallery_page() -> None:
    st.title("Convolution arithmetic gallery")
    st.markdown(
        f"The canonical cases of Dumoulin & Visin, [*A guide to convolution arithmetic for "
        f"deep learning*]({GUIDE}) (the animations of [conv_arithmetic]({ANIMATIONS})): "
        "square inputs, one input and one output map. Each has its **transposed twin**, "
        "which maps the convolution's output size back to its input size. Every output size "
        "here comes from convcore's shape arithmetic; the links open the explorer or the "
        "transposed page with exactly that layer (and share it).")
    overview()
    for case in gallery.CASES:
        show_case(case)

