"""The network page's Plotly figures: training curves and the confusion matrix.

Pure builders ``(data, options) -> go.Figure`` that tests can read without a browser.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

BLUES = [[0, "rgb(247,251,255)"], [0.15, "rgb(198,219,239)"], [0.5, "rgb(107,174,214)"],
         [1, "rgb(8,69,148)"]]


def curves_figure(history: dict, epochs: int, presenter: bool = False) -> go.Figure:
    """Loss (training, test) and test accuracy per epoch, side by side; the x axis spans all
    ``epochs`` so that a training in progress fills it from the left."""
    font = 17 if presenter else 12
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss (cross-entropy)",
                                                         "test accuracy"),
                        horizontal_spacing=0.12)
    x = list(range(1, len(history["train_loss"]) + 1))
    fig.add_trace(go.Scatter(x=x, y=history["train_loss"], name="training loss",
                             mode="lines+markers", line=dict(color="#2166ac")), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=history["test_loss"], name="test loss",
                             mode="lines+markers", line=dict(color="#b2182b")), 1, 1)
    acc = [100 * a for a in history["test_accuracy"]]
    fig.add_trace(go.Scatter(x=x, y=acc, name="test accuracy", mode="lines+markers",
                             line=dict(color="#1b7837"),
                             hovertemplate="epoch %{x}: %{y:.2f} %<extra></extra>"), 1, 2)
    fig.add_hline(y=97, line=dict(color="rgba(0,0,0,0.35)", dash="dot"), row=1, col=2,
                  annotation_text="97 %", annotation_position="bottom right")
    for col in (1, 2):
        fig.update_xaxes(title_text="epoch", range=[0.5, epochs + 0.5],
                         dtick=5 if epochs > 10 else 1, row=1, col=col)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(range=[min([80.0, *acc]) - 1, 100.5], ticksuffix=" %", row=1, col=2)
    fig.update_layout(height=300 if presenter else 280, margin=dict(l=50, r=20, t=40, b=40),
                      font=dict(size=font), legend=dict(orientation="h", y=-0.3),
                      showlegend=True)
    return fig


def confusion_figure(counts: np.ndarray, presenter: bool = False) -> go.Figure:
    """Test images per (true class, predicted class), the diagonal being the correct ones."""
    counts = np.asarray(counts)
    n = counts.shape[0]
    font = 17 if presenter else 12
    labels = [str(i) for i in range(n)]
    fig = go.Figure(go.Heatmap(
        z=counts, x=labels, y=labels, colorscale=BLUES, zmin=0, showscale=False,
        text=[[str(v) if v else "" for v in row] for row in counts], texttemplate="%{text}",
        hovertemplate="true %{y}, predicted %{x}: %{z} images<extra></extra>", xgap=1, ygap=1))
    fig.update_xaxes(title_text="predicted", side="top", type="category")
    fig.update_yaxes(title_text="true class", autorange="reversed", type="category")
    fig.update_layout(height=380 if presenter else 340, width=380 if presenter else 340,
                      margin=dict(l=60, r=10, t=60, b=10), font=dict(size=font))
    return fig
