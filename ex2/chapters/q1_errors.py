"""Q1 (c): where the autoencoders' error sits, read from `measurements.reconstruction_quality`:
on the strokes or the background, and whether the Q2(i) classifier still recognises the digit."""

from __future__ import annotations

from ex2.claims import Check, Claim

SOURCE = "the four Q1 runs (seed 0, 10 epochs), test set (10,000 images), final epoch"
QUALITY_SOURCE = SOURCE + "; pixels grouped by the input's intensity"


def claims(quality) -> list[Claim]:
    return [strokes_claim(quality), identity_claim(quality), faint_claim(quality)]


def strokes_claim(q) -> Claim:
    stroke_share = {k: 1 - v["error_share"]["background"] for k, v in q.items()}
    border_and_core = [v["error_share"]["border"] + v["error_share"]["core"] for v in q.values()]
    stroke_pixels = 1 - q[(16, 16)]["pixel_share"]["background"]
    border = {k: v["error"]["border"] for k, v in q.items()}
    background = max(v["error"]["background"] for v in q.values())
    core = {k: v["error"]["core"] for k, v in q.items()}
    text = (
        f"The error sits on the digit, not on the background: the stroke pixels "
        f"($x > 0$, {100 * stroke_pixels:.0f} % of the image) hold "
        f"{100 * min(stroke_share.values()):.0f}–{100 * max(stroke_share.values()):.0f} % "
        "of the error in all four models. Per pixel, the $c=16$ models err most on the "
        "anti-aliased stroke borders ($0 < x < 0.5$), the $c=4$ models in the stroke "
        "cores."
    )
    return Claim(
        "q1.c.error_on_strokes",
        text,
        "all(far(s, stroke_pixels) for s in stroke_share) "
        "and all(higher(b, c) for b, c in zip(border_c16, core_c16)) "
        "and all(higher(c, b) for b, c in zip(border_c4, core_c4)) "
        "and higher(min(border_c16 + core_c4), background) "
        "and same(stroke_share, border_and_core)",
        {
            "stroke_pixels": stroke_pixels,
            "border_and_core": border_and_core,
            "background": background,
            "stroke_share": list(stroke_share.values()),
            "border_c16": [border[(16, 4)], border[(16, 16)]],
            "core_c16": [core[(16, 4)], core[(16, 16)]],
            "border_c4": [border[(4, 4)], border[(4, 16)]],
            "core_c4": [core[(4, 4)], core[(4, 16)]],
        },
        QUALITY_SOURCE + "; share of the summed |error|, and mean |error| per pixel",
    )


def identity_claim(q) -> Claim:
    missed = {k: 1 - v["recognised"] for k, v in q.items()}
    m = {
        "d4_c16": missed[(16, 4)],
        "d16_c16": missed[(16, 16)],
        "d4_c4": missed[(4, 4)],
        "d16_c4": missed[(4, 16)],
    }
    text = (
        f"A 4-number code loses the digit's identity more often at either channel count: the "
        f"Q2(i) classifier fails to recognise the input's digit in {100 * m['d4_c16']:.1f} % of "
        f"the $c=16, d=4$ reconstructions against {100 * m['d16_c16']:.1f} % with $d=16$ "
        f"({m['d4_c16'] / m['d16_c16']:.1f}×), and in {100 * m['d4_c4']:.1f} % of the "
        f"$c=4, d=4$ ones against {100 * m['d16_c4']:.1f} % with $d=16$ "
        f"({m['d4_c4'] / m['d16_c4']:.1f}×)."
    )
    return Claim(
        "q1.c.small_code_loses_identity",
        text,
        "higher(d4_c16, d16_c16) and higher(d4_c4, d16_c4)",
        m,
        SOURCE + "; the Q2(i) classifier's predictions on the reconstructions",
        short="a 4-number code loses the digit more often, at either channel count",
    )


def faint_claim(q) -> Claim:
    bright = {k: v["core_brightness"] for k, v in q.items()}
    text = (
        f"The $c=4$ models draw faint strokes: the mean reconstructed intensity of "
        f"stroke-core pixels is {bright[(4, 4)]:.2f} and {bright[(4, 16)]:.2f} for "
        f"$c=4$, against {bright[(16, 4)]:.2f} and {bright[(16, 16)]:.2f} for $c=16$ "
        f"(inputs: {q[(16, 16)]['input_core_brightness']:.2f})."
    )
    return Claim(
        "q1.c.faint_c4",
        text,
        "lower(max(c4), min(c16))",
        {"c4": [bright[(4, 4)], bright[(4, 16)]], "c16": [bright[(16, 4)], bright[(16, 16)]]},
        QUALITY_SOURCE + " (stroke core: input x >= 0.5), mean reconstructed intensity",
    )


def quality_check(quality) -> Check:
    """The error shares of each model add up to 1."""
    totals = [sum(q["error_share"].values()) for q in quality.values()]
    return Check(
        "q1.check.error_shares",
        "the error shares of background, border and core add up to 1 for every model",
        "all(abs(t - 1) < 1e-6 for t in totals)",
        {"totals": totals},
        SOURCE,
    )
