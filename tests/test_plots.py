"""ex2.plots (and verify.figures) at print size: each figure fits the PDF's text width, its text
prints at 7 pt or more, its tick labels do not overlap, epoch axes have whole-number ticks, digit
images are framed in a colour no stroke has, and each figure names the function that drew it,
whose listing the Code appendix shows under the label its caption links to.

Each checker also runs on a figure made with the defect on purpose (the `*_catches_*` tests), so a
checker that stops finding anything fails too.
"""

import base64
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from ex2 import experiments, plots  # noqa: E402
from ex2.chapters import page  # noqa: E402
from ex2.train import History  # noqa: E402
from verify import equivariance as eq  # noqa: E402
from verify import figures  # noqa: E402
from verify import layers as ly  # noqa: E402
from verify.jacobian import check_conv2d_jacobian  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
MIN_PRINT_PT = 7.0  # smallest legible text in the PDF
VERIFY_FIGURES = ("conv2d_jacobian", "pooling_counterexample")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------- checkers


def printed_scale(fig) -> float:
    """How much the PDF shrinks a figure: LaTeX scales one wider than the text down to fit."""
    return min(1.0, plots.TEXT_WIDTH / fig.get_figwidth())


def drawn_texts(fig) -> list[Text]:
    """The visible, non-empty texts a render draws: not the labels matplotlib keeps for ticks
    outside an axis's range."""
    fig.draw_without_rendering()
    undrawn = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - 1e-9 * abs(hi - lo) <= tick.get_loc() <= hi + 1e-9 * abs(hi - lo):
                    undrawn.update({id(tick.label1), id(tick.label2)})
    return [
        t
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and id(t) not in undrawn
    ]


def small_text(fig) -> list[str]:
    """Texts that print below MIN_PRINT_PT."""
    scale = printed_scale(fig)
    return [
        f"{t.get_text()!r} at {t.get_fontsize() * scale:.1f} pt"
        for t in drawn_texts(fig)
        if t.get_fontsize() * scale < MIN_PRINT_PT
    ]


def overlapping_tick_labels(fig) -> list[str]:
    """Pairs of x tick labels of one axes whose boxes overlap."""
    drawn = {id(t) for t in drawn_texts(fig)}
    renderer = fig.canvas.get_renderer()
    found = []
    for ax in fig.axes:
        labels = [t for t in ax.get_xticklabels() if id(t) in drawn]
        boxes = [t.get_window_extent(renderer) for t in labels]
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                if boxes[i].overlaps(boxes[j]):
                    found.append(f"{labels[i].get_text()!r} / {labels[j].get_text()!r}")
    return found


def clipped_text(fig) -> list[str]:
    """Texts that reach past the figure's edge (cut off in the page)."""
    texts = drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    edge = fig.bbox.padded(1)
    return [
        repr(t.get_text())
        for t in texts
        if not all(edge.contains(*corner) for corner in t.get_window_extent(renderer).corners())
    ]


def fractional_ticks(ax) -> list[float]:
    """x tick positions inside the axis range that are not whole numbers."""
    lo, hi = sorted(ax.get_xlim())
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    return [t for t in ticks if not float(t).is_integer()]


def white_pixels(fig, ax) -> int:
    """Pure white pixels inside an axes, rendered."""
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    box = ax.get_window_extent()
    height = rgb.shape[0]
    x0, x1 = int(box.x0) + 1, int(box.x1) - 1
    y0, y1 = height - int(box.y1) + 1, height - int(box.y0) - 1
    return int((rgb[y0:y1, x0:x1] == 255).all(axis=-1).sum())


def print_size_problems(fig) -> list[str]:
    problems = []
    if fig.get_figwidth() > plots.TEXT_WIDTH + 1e-9:
        problems.append(f"{fig.get_figwidth():.2f} in wide, the text is {plots.TEXT_WIDTH} in")
    problems += [f"small text: {t}" for t in small_text(fig)]
    problems += [f"overlapping tick labels: {p}" for p in overlapping_tick_labels(fig)]
    problems += [f"text cut off at the edge: {t}" for t in clipped_text(fig)]
    return problems


# --------------------------------------------------------------------------- synthetic results


def history(epochs: int = 10, offset: float = 0.0) -> History:
    falling = [0.2 / (e + 1) + offset for e in range(epochs)]
    return History(
        loss_name="L1",
        metric_name="pixel_accuracy",
        train_loss=falling,
        train_metric=[1 - v for v in falling],
        test_loss=[v * 1.05 for v in falling],
        test_metric=[1 - 1.05 * v for v in falling],
        seconds=[1.0] * epochs,
    )


LONG_NAMES = [
    "1. frozen AE encoder + linear\n(Q3)",
    "2. fine-tune the AE encoder",
    "3. + augmentation",
    "4. label spreading\non AE codes",
    "5. iterated spreading and training",
]


def every_figure() -> dict[str, plt.Figure]:
    """Each drawing function of the book on inputs of the book's sizes."""
    rng = np.random.default_rng(0)
    images = torch.rand(10, 1, 28, 28)
    labels = rng.integers(0, 10, 500)
    pool = ly.max_pool(2, 2)
    x = eq.find_pooling_counterexample(pool, (1, 1, 4, 4), (1, 1), trials=50)
    pooled = eq.check_not_equivariant(pool, x, [(1, 1)], claim_id="T2c.test", claim="test")
    return {
        "training_curves": plots.training_curves(
            {f"c={c}, d={d}": history(offset=0.01 * c / d) for c in (4, 16) for d in (4, 16)}
        ),
        "training_curves_one_run": plots.training_curves({"all 60,000 images": history(15)}),
        "image_rows": plots.image_rows(
            {"input": images, **{f"c={c}, d={d}": images for c in (4, 16) for d in (4, 16)}}
        ),
        "confusion_matrices": plots.confusion_matrices(
            {"(i) all images": (labels, labels), "(ii) 100 images": (labels, labels[::-1])}
        ),
        "digit_blocks": plots.digit_blocks(
            {name: torch.rand(10, 4, 1, 28, 28) for name in ("input", "autoencoder", "classifier")}
        ),
        "strip_plot": plots.strip_plot(
            {
                f"{m}\n{n}": rng.random(10)
                for m in ("Q2 fresh", "Q3 frozen")
                for n in ("100", "all")
            },
            ylabel="test accuracy (%)",
            scale=100,
        ),
        "scatter_2d": plots.scatter_2d(
            {"autoencoder": rng.normal(size=(500, 2)), "classifier": rng.normal(size=(500, 2))},
            labels,
        ),
        "accuracy_curve": plots.accuracy_curve(list(np.linspace(0.99, 0.3, 9)), "shift (pixels)"),
        "bars_with_dots": plots.bars_with_dots(
            {name: list(rng.uniform(0.6, 0.95, 10)) for name in LONG_NAMES},
            ylabel="test accuracy (%)",
        ),
        # drawn as the theory page draws them: verify's own functions in the book's style
        "conv2d_jacobian": plots.drawn_by(figures.conv2d_jacobian)(check_conv2d_jacobian().data),
        "pooling_counterexample": plots.drawn_by(figures.pooling_counterexample)(
            {"max pooling": pooled.data, "mean pooling": pooled.data}
        ),
    }


# --------------------------------------------------------------------------- the book's figures


def test_every_figure_prints_legibly_at_text_width():
    problems = {name: print_size_problems(fig) for name, fig in every_figure().items()}
    problems = {name: p for name, p in problems.items() if p}
    assert not problems, f"figures that do not print legibly: {problems}"


def test_every_figure_names_the_function_that_drew_it():
    for name, fig in every_figure().items():
        module = "verify.figures" if name in VERIFY_FIGURES else "ex2.plots"
        assert fig.get_label() == f"{module}.{name.removesuffix('_one_run')}", fig.get_label()


def test_training_curves_tick_whole_epochs():
    for epochs in (1, 4, 10, 15):
        fig = plots.training_curves({"run": history(epochs)})
        fig.draw_without_rendering()
        for ax in fig.axes:
            assert not fractional_ticks(ax), (epochs, list(ax.get_xticks()))


def test_digit_blocks_frame_images_in_colour_not_white():
    """All-black images: any white pixel inside an axes would be a separator that reads as ink."""
    fig = plots.digit_blocks({"input": torch.zeros(10, 4, 1, 28, 28)})
    assert white_pixels(fig, fig.axes[0]) == 0


# --------------------------------------------------------------------------- planted defects


def test_print_size_check_catches_a_5pt_legend_on_a_wide_figure():
    fig, ax = plt.subplots(figsize=(10, 3.6))
    ax.plot([1, 2], [1, 2], label="run")
    ax.legend(fontsize=7)
    problems = print_size_problems(fig)
    assert any("10.00 in wide" in p for p in problems), problems
    assert any("'run' at 4.9 pt" in p for p in problems), problems


def test_overlap_check_catches_long_unwrapped_labels():
    fig, ax = plt.subplots(figsize=(plots.TEXT_WIDTH, 3.2))
    ax.bar(range(5), [1] * 5)
    ax.set_xticks(range(5), [n.replace("\n", " ") for n in LONG_NAMES], fontsize=8)
    assert overlapping_tick_labels(fig)


def test_tick_check_catches_matplotlib_default_epoch_ticks():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot(np.arange(1, 4), np.ones(3))
    fig.draw_without_rendering()
    assert 2.5 in fractional_ticks(ax)


def test_white_pixel_check_catches_white_separators():
    fig, ax = plt.subplots(figsize=(3, 1))
    strip = torch.cat([torch.nn.functional.pad(torch.zeros(28, 28), (1, 1), value=1.0)] * 4, 1)
    ax.imshow(strip.numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    assert white_pixels(fig, ax) > 0


def drawing_functions() -> list[str]:
    """`module.name` of every function of ex2.plots that `drawn_by` wraps, and of the
    verify.figures functions the theory page draws through it."""
    wrapped = [
        f"plots.{name}"
        for name, function in vars(plots).items()
        if getattr(function, "__wrapped__", None) and function.__module__ == plots.__name__
    ]
    theory = (REPO / "book" / "theory.md").read_text()
    drawn = re.findall(r"drawn_by\(figures\.(\w+)\)", theory)
    return [f"ex2.{w}" for w in wrapped] + [f"verify.figures.{name}" for name in drawn]


def listings(code_page: str) -> dict[str, tuple[str, str]]:
    """label -> (included file, pyobject) of each labelled literalinclude of a MyST page."""
    found = re.finditer(
        r"^\(([\w-]+)\)=\n(?:#+ [^\n]*\n\n)?```\{literalinclude\} \.\./(\S+)\n:pyobject: (\w+)",
        code_page,
        re.MULTILINE,
    )
    return {m.group(1): (m.group(2), m.group(3)) for m in found}


def missing_listings(code_page: str) -> list[str]:
    shown = listings(code_page)
    missing = []
    for qualified in drawing_functions():
        module, name = qualified.rsplit(".", 1)
        if shown.get(page.source_label(qualified)) != (module.replace(".", "/") + ".py", name):
            missing.append(qualified)
    return missing


def test_code_appendix_lists_every_drawing_function_under_its_caption_label():
    assert len(drawing_functions()) >= 10
    code_page = (REPO / "book" / "code.md").read_text()
    assert not missing_listings(code_page)


def test_listing_check_catches_a_missing_listing():
    code_page = (REPO / "book" / "code.md").read_text()
    doctored = code_page.replace(":pyobject: digit_blocks", ":pyobject: image_rows")
    assert missing_listings(doctored) == ["ex2.plots.digit_blocks"]


def test_a_glued_figure_is_vector_graphics_at_its_own_size():
    fig = plots.accuracy_curve([0.9, 0.5], "shift (pixels)")
    bundle = page.VectorFigure(fig)._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")
    assert 'width="324pt"' in bundle["image/svg+xml"]  # 4.5 in
    pdf = base64.b64decode(bundle["application/pdf"])
    assert pdf.startswith(b"%PDF") and b"/MediaBox [ 0 0 324 201.6 ]" in pdf


def test_caption_line_names_the_function_and_the_run_folders():
    from ex2.chapters import configs

    fig = plots.accuracy_curve([0.9, 0.5], "shift (pixels)")
    cfg = configs.classifiers()["full"]
    line = page.source_line(fig, {"a": [cfg], "b": cfg})  # nested, and repeated once
    folder = experiments.run_dir(cfg).name
    assert line == (
        "Drawn by {ref}`ex2.plots.accuracy_curve <code-ex2-plots-accuracy-curve>` "
        f"from the run `{folder}`."
    )
    many = page.source_line(fig, configs.autoencoders() + list(configs.classifiers().values()))
    assert many.endswith("from 6 runs of {numref}`tab-prov-runs`.")
    with pytest.raises(ValueError, match="drawn_by"):
        page.source_line(plt.figure())
