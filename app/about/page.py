"""About: what "convolution" means here, the formula, the backend in use, and the core's three
algorithms timed on this server."""

from __future__ import annotations

import numpy as np
import streamlit as st

import convcore as cc
from app.shared import figures, model
from convcore.backend import cupy_unavailable_reason

X = np.array([[[2.0, 3.0, 4.0, 1.0]]], dtype=np.float32)
W = np.array([[[0.5, -2.0]]], dtype=np.float32)


def correlation_vs_convolution() -> None:
    st.header("Cross-correlation, not flipped convolution")
    st.markdown(
        "Deep-learning libraries (PyTorch, MegEngine, PuzzleLib, R torch) and this app compute "
        "**cross-correlation**: the kernel slides over the input *as it is*. The convolution of "
        "signal processing flips the kernel first. With a learned kernel the difference does not "
        "matter — the network learns the flipped one — but it does when you type a kernel in.")
    st.latex(r"\text{out}(N_i, C_{out_j}) = \text{bias}(C_{out_j}) + "
             r"\sum_{k=0}^{C_{in}/g - 1} \text{weight}(C_{out_j}, k) \star "
             r"\text{input}(N_i,\, g_j \tfrac{C_{in}}{g} + k)")
    st.latex(r"(w \star x)[i] = \sum_{t=0}^{K-1} w[t]\; x_{pad}[i \cdot s + t \cdot d]")
    st.latex(r"L_{out} = \left\lfloor \frac{L_{in} + p_{lo} + p_{hi} - d\,(K-1) - 1}{s}"
             r" \right\rfloor + 1")
    st.markdown(r"with stride $s$, dilation $d$, padding $p$ and $g$ groups: output map $j$ "
                r"belongs to group $g_j = \lfloor j \cdot g / C_{out} \rfloor$.")
    corr = cc.to_numpy(cc.conv1d(X, W))[0, 0]
    conv = cc.to_numpy(cc.conv1d(X, np.ascontiguousarray(W[..., ::-1])))[0, 0]
    st.markdown(f"Example: x = {figures.number_list(X)}, w = {figures.number_list(W)}")
    c1, c2 = st.columns(2)
    c1.metric("cross-correlation (this app)", figures.number_list(corr))
    c2.metric("convolution (kernel flipped)", figures.number_list(conv))
    st.plotly_chart(figures.correlation_figure(X[0, 0], W[0, 0], corr, conv), key="about.chart",
                    config={"displaylogo": False})


def backend() -> None:
    st.header("Backend")
    name = cc.backend_name()
    st.markdown(f"convcore runs on **{name}** here (available: "
                f"{', '.join(cc.available_backends())}).")
    why = cupy_unavailable_reason()
    if why:
        st.caption(f"CuPy is not used: {why}")
    st.caption("Set CONVCORE_BACKEND=numpy|cupy|auto before starting the app to choose.")


def algorithms() -> None:
    st.header("Three ways to compute the same numbers")
    st.markdown(
        "- **im2col** gathers every window into a column and multiplies the kernel with all "
        "columns at once (one matrix product, BLAS): best for dense layers with many maps.\n"
        "- **direct** adds one shifted slice of the input per tap, with no column buffer: best "
        "when each output reads few inputs (depthwise and small groups).\n"
        "- **fft** multiplies spectra (SciPy's `signal` module): its cost barely depends on the "
        "kernel's size, so it wins for large kernels at stride 1.\n\n"
        "`algorithm=\"auto\"` (the default) picks one from the shapes with a cost model, "
        "within the memory budget; `cc.choose_algorithm` says which and why, and the explorer's "
        "footer shows it. All three give the same numbers (float32 rounding apart). Timed on "
        "this server on the first visit of this page (median of 5 interleaved rounds; the "
        "fastest in bold — on small layers the model's estimate and the clock may disagree "
        "by a fraction of a millisecond):")
    lines = ["| layer | auto chooses | " + " | ".join(f"{n} ms" for n in model.ALGORITHMS) + " |",
             "|---|---|" + "---:|" * len(model.ALGORITHMS)]
    for row in model.algorithm_timings():
        best = min(model.ALGORITHMS, key=lambda n: row[f"{n} ms"])
        times = [f"**{row[f'{n} ms']:.2f}**" if n == best else f"{row[f'{n} ms']:.2f}"
                 for n in model.ALGORITHMS]
        lines.append(f"| {row['layer']} | {row['auto chooses']} | " + " | ".join(times) + " |")
    st.markdown("\n".join(lines))


def about_page() -> None:
    st.title("About the Convolution Explorer")
    correlation_vs_convolution()
    backend()
    algorithms()
    st.header("Pages")
    st.markdown(
        "- **1-D / 2-D convolution** — set every parameter, step through the sliding window, "
        "read each step's arithmetic and the shape formula; share the URL.\n"
        "- **Transposed & gradients** — the transposed convolution step by step, as scatter "
        "(input cells stamp the kernel) or gather (a plain convolution over the zero-inserted "
        "input, kernel flipped); it is the backward pass of a forward layer; what "
        "`output_padding` chooses.\n"
        "- **Arithmetic gallery** — the canonical cases of Dumoulin & Visin's guide to "
        "convolution arithmetic, each with its transposed twin, one click from the pages "
        "above.\n"
        "- **Groups & depthwise** — how groups wire maps and shape the weight.\n"
        "- **Receptive field** — build a stack of up to eight layers; hover any cell to see the "
        "input cells that reach it and through how many paths; size, jump and start per "
        "layer.\n"
        "- **Shape drill** — predict the output shape of seeded random layers (transposed ones "
        "too), then see the formula with your numbers; one URL gives a class the same drill.\n"
        "- **Documented examples** — every example of the documents against convcore.")

