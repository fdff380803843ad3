"""Every training run the book shows, as configs (all through `config.for_profile`).

Q2(ii) and Q3(ii) train on the same seeded draw of 100 images; the spread chapter repeats them on
draws 0..4 (subset seed = model seed = k) and the full-data runs over seeds 0..2. Draw 0 and seed 0
are the runs of Q2 and Q3 themselves. To tell the draw from the seed, the Q2(ii) classifier is
also swept over one of them with the other fixed: draws 0..4 with model seed 0, and model seeds
0..4 on draw 0.
"""

from __future__ import annotations

from dataclasses import replace

from ex2.config import RunConfig, for_profile, make, profile

Q1_SHAPES = [(4, 4), (4, 16), (16, 4), (16, 16)]  # (base channels c, latent dimension d)
SUBSET_SIZE = 100
# 100 images in batches of 10: an "epoch" here is 10 passes (100 steps), so both 100-image runs take
# the same 1000 steps and the 10,000 test images are evaluated 10 times, not 100.
SUBSET_TRAINING = dict(
    epochs=10, passes_per_epoch=10, batch_size=10, subset_size=SUBSET_SIZE, subset_seed=0
)
SPREAD_DRAWS = 5
FULL_DATA_SEEDS = 3


def autoencoders() -> list[RunConfig]:
    return [for_profile(make("autoencoder", base=c, latent=d)) for c, d in Q1_SHAPES]


def pretrained_autoencoder() -> RunConfig:
    """The Q1 (16, 16) autoencoder, whose encoder Q3, Q4 and the 100-label methods reuse."""
    return autoencoders()[-1]


def classifiers() -> dict[str, RunConfig]:
    full = make("classifier")
    return {"full": for_profile(full), "subset": for_profile(replace(full, **SUBSET_TRAINING))}


def heads() -> dict[str, RunConfig]:
    full = make("head", encoder=make("autoencoder"))
    return {"full": for_profile(full), "subset": for_profile(replace(full, **SUBSET_TRAINING))}


def decoders() -> dict[str, RunConfig]:
    return {
        "autoencoder": for_profile(make("decoder", encoder=make("autoencoder"))),
        "classifier": for_profile(make("decoder", encoder=make("classifier"))),
    }


def spread_draws() -> int:
    return SPREAD_DRAWS if profile() == "full" else 2


def repeated(configs: dict[str, RunConfig]) -> dict[str, list[RunConfig]]:
    """A chapter's pair of runs repeated: over draws of 100 images, and over seeds on full data."""
    return {
        "subset": [
            replace(configs["subset"], subset_seed=k, seed=k) for k in range(spread_draws())
        ],
        "full": [replace(configs["full"], seed=k) for k in range(FULL_DATA_SEEDS)],
    }


def draw_sweep(cfg: RunConfig) -> list[RunConfig]:
    """A 100-image run on draws 0..n-1 with its model seed fixed (draw 0: the run itself)."""
    return [replace(cfg, subset_seed=k) for k in range(spread_draws())]


def seed_sweep(cfg: RunConfig) -> list[RunConfig]:
    """A 100-image run with model seeds 0..n-1 on its own draw (seed 0: the run itself)."""
    return [replace(cfg, seed=k) for k in range(spread_draws())]
