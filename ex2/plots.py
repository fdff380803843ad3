"""Figures for the book. Each function takes results (histories, models, images) and returns a
Figure.

Figures are drawn at print size: at most `TEXT_WIDTH` wide (the PDF's text width), text in `STYLE`'s
sizes (8-10 pt), so that the PDF, which places a figure at its own size, prints every label at the
size it was set in. `ex2.chapters.page.figure` saves them as vector graphics (SVG for the HTML, PDF
for LaTeX). `drawn_by` labels each figure with the function that drew it, which its caption names.
"""

from __future__ import annotations

import functools
import textwrap

# No backend is forced: notebooks keep their inline backend and show the figures.
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ex2.formatting import mean_std
from ex2.train import History

TEXT_WIDTH = 7.0  # inches: US letter (8.5 in) less the 0.75 in side margins set in _config.yml
STYLE = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 10,
}
SEPARATOR = "#6f8fb8"  # between digit images: a colour no pen stroke has (white would read as ink)


def drawn_by(draw):
    """Draw in `STYLE` and label the figure `module.function`, for its caption."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with plt.rc_context(STYLE):
            fig = draw(*args, **kwargs)
            fig.draw_without_rendering()  # ticks are made lazily: make them in this style
        fig.set_label(f"{draw.__module__}.{draw.__qualname__}")
        return fig

    return wrapper


def fit_tick_labels(ax, labels: list[str], slot_inches: float, fontsize: float = 8) -> None:
    """Put labels on ticks 0, 1, ..., each line wrapped to the width of its slot, so that no two
    labels overlap (an average character is about 0.55 em wide)."""
    chars = max(6, int(slot_inches * 72 / (0.55 * fontsize)))
    wrapped = [
        "\n".join(textwrap.fill(line, chars) for line in label.split("\n")) for label in labels
    ]
    ax.set_xticks(range(len(labels)), wrapped, fontsize=fontsize)


@drawn_by
def training_curves(histories: dict[str, History], title: str = "") -> plt.Figure:
    """Loss (left) and metric (right) per epoch; train dashed, test solid, one colour per run. One
    legend above both panels: the runs by colour, train and test by line style."""
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 2.3), layout="constrained")
    for i, h in enumerate(histories.values()):
        colour = f"C{i}"
        epochs = np.arange(1, len(h.train_loss) + 1)
        ax_loss.plot(epochs, h.train_loss, "--", color=colour)
        ax_loss.plot(epochs, h.test_loss, "-", color=colour)
        ax_metric.plot(epochs, h.train_metric, "--", color=colour)
        ax_metric.plot(epochs, h.test_metric, "-", color=colour)
        loss_name, metric_name = h.loss_name, h.metric_name.replace("_", " ")
    ax_loss.set(xlabel="epoch", ylabel=f"{loss_name} loss", yscale="log")
    ax_metric.set(xlabel="epoch", ylabel=metric_name)
    for ax in (ax_loss, ax_metric):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # whole epochs
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=f"C{i}", label=label) for i, label in enumerate(histories)]
    handles += [
        Line2D([], [], color="0.3", linestyle="--", label="train"),
        Line2D([], [], color="0.3", label="test"),
    ]
    columns = len(handles) if len(handles) <= 6 else -(-len(handles) // 2)
    fig.legend(handles=handles, loc="outside upper center", ncol=columns, frameon=False)
    if title:
        fig.suptitle(title)
    return fig


@drawn_by
def image_rows(
    rows: dict[str, torch.Tensor], title: str = "", col_labels: list[str] | None = None
) -> plt.Figure:
    """One row of 28x28 images per entry (e.g. input, then reconstructions), aligned by column."""
    n_rows, n_cols = len(rows), len(next(iter(rows.values())))
    side = min(0.48, (TEXT_WIDTH - 1.0) / n_cols)  # small enough to share a page with a plot
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(side * n_cols + 1.0, side * n_rows + 0.3), squeeze=False
    )
    for r, (label, images) in enumerate(rows.items()):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.imshow(images[c].reshape(28, 28).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
            if r == 0 and col_labels:
                ax.set_title(col_labels[c], fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout(pad=0.3)
    return fig


@drawn_by
def confusion_matrices(panels: dict[str, tuple[np.ndarray, np.ndarray]]) -> plt.Figure:
    """Row-normalised test-set confusion matrices side by side, in percent, with 8 pt cell labels;
    cells under 1 % stay blank so the errors that matter stand out."""
    width = min(TEXT_WIDTH, 3.3 * len(panels))
    fig, axes = plt.subplots(
        1, len(panels), figsize=(width, width / len(panels) + 0.3), squeeze=False
    )
    for ax, (title, (labels, predictions)) in zip(axes[0], panels.items()):
        counts = np.zeros((10, 10))
        np.add.at(counts, (labels, predictions), 1)
        share = 100 * counts / counts.sum(1, keepdims=True)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=100)
        for (i, j), v in np.ndenumerate(share):
            if v >= 1:
                ax.text(
                    j,
                    i,
                    f"{v:.0f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if v > 60 else "black",
                )
        ax.set(xticks=range(10), yticks=range(10), xlabel="predicted digit", ylabel="true digit")
        ax.set_title(title)
    fig.tight_layout()
    return fig


@drawn_by
def digit_blocks(
    sources: dict[str, torch.Tensor], title: str = "", mark: tuple[int, int] | None = None
) -> plt.Figure:
    """One row per digit; per source a strip of that digit's k images ([10, k, 1, 28, 28]), the
    images framed by thin coloured lines. `mark` = (digit, k): outline that image in every strip
    (an example the text cites)."""
    names = list(sources)
    k = len(sources[names[0]][0])
    column = min(3.2, 0.85 * (TEXT_WIDTH - 0.3) / len(names))  # 85 %: the figure shares its page
    fig, axes = plt.subplots(
        10,
        len(names),
        figsize=(column * len(names) + 0.3, 10 * column * 30 / (30 * k + 2) + 0.5),
        squeeze=False,
    )
    cmap = plt.get_cmap("gray").with_extremes(bad=SEPARATOR)
    for col, name in enumerate(names):
        for digit in range(10):
            strip = torch.cat(
                [
                    torch.nn.functional.pad(img.reshape(28, 28), (1, 1, 1, 1), value=float("nan"))
                    for img in sources[name][digit]
                ],
                dim=1,
            )
            ax = axes[digit, col]
            ax.imshow(strip.numpy(), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            if mark is not None and mark[0] == digit:
                box = (30 * mark[1] - 0.5, -0.5)  # each image is 30 px wide with its frame
                ax.add_patch(plt.Rectangle(box, 30, 30, fill=False, lw=1.5, edgecolor="red"))
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(str(digit), rotation=0, ha="right", va="center")
            if digit == 0:
                ax.set_title(name.replace(" + ", "\n+ "))  # two lines: a column is narrow
    if title:
        fig.suptitle(title)
    fig.tight_layout(pad=0.3)
    return fig


@drawn_by
def strip_plot(
    groups: dict[str, list[float]], ylabel: str, title: str = "", scale: float = 1.0
) -> plt.Figure:
    """Each method's values (times `scale`) as dots, one per draw or seed, with the mean as a bar
    and ±1 std."""
    width = min(TEXT_WIDTH, 1.4 * len(groups) + 1.2)
    fig, ax = plt.subplots(figsize=(width, 3.2), layout="constrained")
    for i, values in enumerate(groups.values()):
        v = scale * np.asarray(values, dtype=float)
        jitter = np.linspace(-0.12, 0.12, len(v)) if len(v) > 1 else np.zeros(1)
        ax.scatter(i + jitter, v, color=f"C{i}", alpha=0.8, zorder=3)
        mean, std = mean_std(v)
        ax.errorbar(i + 0.3, mean, yerr=std, fmt="_", color=f"C{i}", markersize=18, capsize=4)
    fit_tick_labels(ax, list(groups), 0.9 * (width - 0.8) / len(groups))
    ax.set(ylabel=ylabel)
    ax.grid(alpha=0.3, axis="y")
    if title:
        ax.set_title(title)
    return fig


@drawn_by
def scatter_2d(panels: dict[str, np.ndarray], labels: np.ndarray, title: str = "") -> plt.Figure:
    """2-D embeddings side by side, points coloured by digit (the points as an image at print
    resolution: thousands of vector dots would make the page slow to open)."""
    side = min(3.4, (TEXT_WIDTH - 0.8) / len(panels))
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(side * len(panels) + 0.8, side + 0.3),
        squeeze=False,
        layout="constrained",
    )
    for ax, (name, xy) in zip(axes[0], panels.items()):
        points = ax.scatter(
            xy[:, 0], xy[:, 1], c=labels, cmap="tab10", s=2, vmin=-0.5, vmax=9.5, rasterized=True
        )
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(points, ax=axes[0].tolist(), ticks=range(10), label="digit", shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig


@drawn_by
def accuracy_curve(accuracies: list[float], xlabel: str) -> plt.Figure:
    """Accuracy (fractions, shown in percent) against a step 0, 1, 2, ..."""
    fig, ax = plt.subplots(figsize=(4.5, 2.8), layout="constrained")
    ax.plot(range(len(accuracies)), [100 * a for a in accuracies], "o-")
    ax.set(xlabel=xlabel, ylabel="test accuracy (%)", ylim=(0, 100))
    ax.set_xticks(range(len(accuracies)))
    ax.grid(alpha=0.3)
    return fig


@drawn_by
def bars_with_dots(
    groups: dict[str, list[float]], ylabel: str, line: float | None = None, scale: float = 100.0
) -> plt.Figure:
    """Mean ± std bars of several methods, each draw as a black dot (values times `scale`)."""
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 3.2), layout="constrained")
    values = [scale * np.asarray(v, dtype=float) for v in groups.values()]
    means = [v.mean() for v in values]
    stds = [mean_std(v)[1] for v in values]
    ax.bar(
        range(len(values)),
        means,
        yerr=stds,
        capsize=4,
        alpha=0.8,
        color=[f"C{i}" for i in range(len(values))],
    )
    for i, v in enumerate(values):
        ax.scatter([i] * len(v), v, color="black", s=8, zorder=3)
    fit_tick_labels(ax, list(groups), 0.9 * (TEXT_WIDTH - 0.8) / len(groups))
    low = min(v.min() for v in values)
    ax.set(ylabel=ylabel, ylim=(max(0.0, low - 5), 100))
    if line is not None:
        ax.axhline(line, color="gray", linestyle="--", linewidth=1)
    ax.grid(alpha=0.3, axis="y")
    return fig
