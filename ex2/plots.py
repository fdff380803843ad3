"""Figures for the book. Each function takes results (histories, models, images) and returns a
Figure."""

from __future__ import annotations

# No backend is forced: notebooks keep their inline backend and show the figures.
import matplotlib.pyplot as plt
import numpy as np
import torch

from ex2.formatting import mean_std
from ex2.train import History


def training_curves(histories: dict[str, History], title: str = "") -> plt.Figure:
    """Loss (left) and metric (right) per epoch; train dashed, test solid, one colour per run."""
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, (label, h) in enumerate(histories.items()):
        colour = f"C{i}"
        epochs = np.arange(1, len(h.train_loss) + 1)
        ax_loss.plot(epochs, h.train_loss, "--", color=colour, label=f"{label} train")
        ax_loss.plot(epochs, h.test_loss, "-", color=colour, label=f"{label} test")
        ax_metric.plot(epochs, h.train_metric, "--", color=colour)
        ax_metric.plot(epochs, h.test_metric, "-", color=colour)
        loss_name, metric_name = h.loss_name, h.metric_name.replace("_", " ")
    ax_loss.set(xlabel="epoch", ylabel=f"{loss_name} loss", yscale="log")
    ax_metric.set(xlabel="epoch", ylabel=metric_name)
    ax_loss.legend(fontsize=7, ncol=2 if len(histories) > 2 else 1)
    for ax in (ax_loss, ax_metric):
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_rows(
    rows: dict[str, torch.Tensor], title: str = "", col_labels: list[str] | None = None
) -> plt.Figure:
    """One row of 28x28 images per entry (e.g. input, then reconstructions), aligned by column."""
    n_rows, n_cols = len(rows), len(next(iter(rows.values())))
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(0.75 * n_cols + 1.4, 0.8 * n_rows + 0.4), squeeze=False
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
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(pad=0.3)
    return fig


def confusion_matrices(panels: dict[str, tuple[np.ndarray, np.ndarray]]) -> plt.Figure:
    """Row-normalised test-set confusion matrices side by side, in percent. Sized for the page
    width, with 8 pt cell labels; cells under 1 % stay blank so the errors that matter stand out."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.4), squeeze=False)
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
        ax.tick_params(labelsize=8)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def digit_blocks(
    sources: dict[str, torch.Tensor], title: str = "", mark: tuple[int, int] | None = None
) -> plt.Figure:
    """One row per digit; per source a strip of that digit's k images ([10, k, 1, 28, 28]).
    `mark` = (digit, k): outline that image in every strip (an example the text cites)."""
    names = list(sources)
    fig, axes = plt.subplots(10, len(names), figsize=(3.2 * len(names), 8.6), squeeze=False)
    for col, name in enumerate(names):
        for digit in range(10):
            strip = torch.cat(
                [
                    torch.nn.functional.pad(img.reshape(28, 28), (1, 1), value=1.0)
                    for img in sources[name][digit]
                ],
                dim=1,
            )
            ax = axes[digit, col]
            ax.imshow(strip.numpy(), cmap="gray", vmin=0, vmax=1)
            if mark is not None and mark[0] == digit:
                box = (30 * mark[1] - 0.5, -0.5)
                ax.add_patch(plt.Rectangle(box, 30, 28, fill=False, lw=2, edgecolor="red"))
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(str(digit), rotation=0, ha="right", va="center")
            if digit == 0:
                ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(pad=0.3)
    return fig


def strip_plot(
    groups: dict[str, list[float]], ylabel: str, title: str = "", scale: float = 1.0
) -> plt.Figure:
    """Each method's values (times `scale`) as dots, one per draw or seed, with the mean as a bar
    and ±1 std."""
    fig, ax = plt.subplots(figsize=(1.6 * len(groups) + 2, 3.4))
    for i, values in enumerate(groups.values()):
        v = scale * np.asarray(values, dtype=float)
        jitter = np.linspace(-0.12, 0.12, len(v)) if len(v) > 1 else np.zeros(1)
        ax.scatter(i + jitter, v, color=f"C{i}", alpha=0.8, zorder=3)
        mean, std = mean_std(v)
        ax.errorbar(i + 0.3, mean, yerr=std, fmt="_", color=f"C{i}", markersize=18, capsize=4)
    ax.set_xticks(range(len(groups)), list(groups), fontsize=8)
    ax.set(ylabel=ylabel)
    ax.grid(alpha=0.3, axis="y")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def scatter_2d(panels: dict[str, np.ndarray], labels: np.ndarray, title: str = "") -> plt.Figure:
    """2-D embeddings side by side, points coloured by digit."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2), squeeze=False)
    for ax, (name, xy) in zip(axes[0], panels.items()):
        points = ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", s=3, vmin=-0.5, vmax=9.5)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(points, ax=axes[0].tolist(), ticks=range(10), label="digit", shrink=0.8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def accuracy_curve(accuracies: list[float], xlabel: str) -> plt.Figure:
    """Accuracy (fractions, shown in percent) against a step 0, 1, 2, ..."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(range(len(accuracies)), [100 * a for a in accuracies], "o-")
    ax.set(xlabel=xlabel, ylabel="test accuracy (%)", ylim=(0, 100))
    ax.set_xticks(range(len(accuracies)))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def bars_with_dots(
    groups: dict[str, list[float]], ylabel: str, line: float | None = None, scale: float = 100.0
) -> plt.Figure:
    """Mean ± std bars of several methods, each draw as a black dot (values times `scale`)."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
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
    ax.set_xticks(range(len(values)), list(groups), fontsize=8)
    low = min(v.min() for v in values)
    ax.set(ylabel=ylabel, ylim=(max(0.0, low - 5), 100))
    if line is not None:
        ax.axhline(line, color="gray", linestyle="--", linewidth=1)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig
