"""Q4(b) measured: does a decoder on the classifier's encoder draw an unusual digit as a typical
member of its class? Ranks within each digit by distance to the digit's mean."""

from __future__ import annotations

import numpy as np
from scipy import stats

from ex2.claims import Claim

PER_DIGIT = 4  # test images shown per digit
UNUSUAL = 0.9  # an input is unusual when it is farther from its digit's mean than 90 % of them
RHO_KEYS = {"classifier": "rho_classifier", "autoencoder": "rho_ae"}  # of q4.b.typical
SOURCE = "the two Q4 decoders (seed 0, 10 epochs); test set (10,000 images)"


def rank_within_digit(distances: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each item's rank among the items of its digit by distance to the digit's mean, as a
    fraction: near 0 the most typical, near 1 the most unusual."""
    rank = np.zeros(len(distances))
    for digit in range(10):
        mask = labels == digit
        rank[mask] = (np.argsort(np.argsort(distances[mask])) + 0.5) / mask.sum()
    return rank


def claims(inputs, measured, labels, shown) -> tuple[list[Claim], tuple[int, int]]:
    """Q4(b) measured: how unusual each test digit is among the inputs of its digit (distance to
    the digit's mean image, ranked), against how unusual its reconstruction is among the same
    decoder's reconstructions of that digit; and the shown example that shows it best. Ranks
    within one decoder's outputs do not reward a decoder for drawing blurrier images."""
    rank = {"input": rank_within_digit(np.asarray(inputs["to_mean"]), labels)}
    rank |= {k: rank_within_digit(np.asarray(m["to_mean"]), labels) for k, m in measured.items()}
    unusual = rank["input"] >= UNUSUAL
    example, marked = example_claim(rank, unusual, shown)
    return [typical_claim(rank, unusual), example], marked


def typical_claim(rank, unusual) -> Claim:
    rho = {k: float(stats.spearmanr(rank["input"], rank[k])[0]) for k in RHO_KEYS}
    median = {k: float(np.median(rank[k][unusual])) for k in RHO_KEYS}
    return Claim(
        "q4.b.typical",
        f"Through the classifier's encoder an unusual digit comes back more ordinary: an input's "
        f"rank and its reconstruction's correlate at $\\rho$ = {rho['autoencoder']:.2f} through "
        f"the autoencoder's encoder and {rho['classifier']:.2f} through the classifier's, and the "
        f"unusual inputs, the {100 * (1 - UNUSUAL):.0f} % of each digit farthest from its mean, "
        f"come back at a median rank of {100 * median['classifier']:.0f} % through the "
        f"classifier's encoder against {100 * median['autoencoder']:.0f} % through the "
        "autoencoder's: closer to a typical member of their class, though still above the "
        "middle.",
        "lower(rho_classifier, rho_ae) and lower(unusual_classifier, unusual_ae) "
        "and unusual_classifier > 0.5",
        {
            "rho_classifier": rho["classifier"],
            "rho_ae": rho["autoencoder"],
            "unusual_classifier": median["classifier"],
            "unusual_ae": median["autoencoder"],
        },
        SOURCE + "; Euclidean pixel distance to the mean of the digit's images (inputs) or of "
        "the same decoder's reconstructions of the digit; rank within the digit; Spearman",
        short="through the classifier's encoder, an unusual digit comes back more ordinary",
    )


def example_claim(rank, unusual, shown) -> tuple[Claim, tuple[int, int]]:
    """Among the shown unusual inputs, the one whose rank drops most through the classifier's
    encoder compared with the autoencoder's, and its (digit, column)."""
    drop = rank["autoencoder"][shown] - rank["classifier"][shown]
    best = int(np.where(unusual[shown], drop, -np.inf).argmax())
    digit, column = divmod(best, PER_DIGIT)
    i = shown[best]
    ordinal = ("first", "second", "third", "fourth")[column]
    claim = Claim(
        "q4.b.example",
        f"Among the digits shown, the unusual input whose reconstruction ranks lowest through "
        f"the classifier's encoder, compared with the autoencoder's, is the {ordinal} {digit} "
        f"(outlined in red): farther from the mean {digit} than "
        f"{100 * rank['input'][i]:.0f} % of the test "
        f"{digit}s, its reconstruction ranks at {100 * rank['autoencoder'][i]:.0f} % among the "
        f"autoencoder path's {digit}s and at {100 * rank['classifier'][i]:.0f} % among the "
        f"classifier path's.",
        f"input >= {UNUSUAL} and lower(classifier, ae)",
        {
            "input": float(rank["input"][i]),
            "classifier": float(rank["classifier"][i]),
            "ae": float(rank["autoencoder"][i]),
        },
        f"test image {i}, chosen among the {len(shown)} shown as the unusual one whose rank "
        "drops most through the classifier's encoder relative to the autoencoder's",
    )
    return claim, (digit, column)
