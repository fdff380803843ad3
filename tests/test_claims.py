"""Checked claims: a Claim's condition decides it, `enforce` fails the full build on a false one,
and each chapter's claims fail when the numbers they rest on are perturbed (synthetic numbers, no
training)."""

from types import SimpleNamespace

import numpy as np
import pytest

from ex2 import claims as C
from ex2.chapters import q1, q2, q3, q4, shift, spread
from ex2.claims import Claim, ClaimFailed
from ex2.models import Classifier, ConvAutoencoder

# --------------------------------------------------------------------------- the Claim type


def test_holds_evaluates_the_condition_on_the_values():
    claim = Claim("t.order", "a is below b", "a < b", {"a": 1.0, "b": 2.0})
    assert claim.holds
    assert not Claim(claim.id, claim.text, claim.condition, {"a": 2.0, "b": 1.0}).holds
    assert Claim("t.all", "", "all(x > 0 for x in xs) and len(xs) == 3", {"xs": [1, 2, 3]}).holds
    assert not Claim("t.all", "", "all(x > 0 for x in xs)", {"xs": [1, -2, 3]}).holds
    pairs = "all(a < b for a, b in zip(xs, xs[1:]))"
    assert Claim("t.rise", "", pairs, {"xs": [1, 2, 3]}).holds
    assert not Claim("t.rise", "", pairs, {"xs": [1, 3, 2]}).holds


@pytest.mark.parametrize(
    "condition,values",
    [
        ("min(xs) > 0", {"xs": []}),
        ("a / b > 1", {"a": 1.0, "b": 0}),
        ("xs[3] > 0", {"xs": [1]}),
        ("a < b", {"a": 1.0, "b": None}),
    ],
    ids=["empty list", "division by zero", "index", "type"],
)
def test_a_condition_that_cannot_be_evaluated_does_not_hold(condition, values):
    claim = Claim("t.degenerate", "", condition, values)
    assert claim.holds is False
    assert claim.line().startswith("FAIL t.degenerate: ")


def test_conditions_see_only_their_values_and_a_few_functions():
    with pytest.raises(NameError):
        Claim("t.escape", "", "__import__('os').getcwd() != ''", {}).holds  # noqa: B018
    with pytest.raises(NameError):
        Claim("t.open", "", "open('/etc/passwd') is not None", {}).holds  # noqa: B018


def test_line_shows_result_id_condition_and_values():
    claim = Claim("q9.x.y", "text", "a < min(b)", {"a": 0.123456, "b": [1.0, 2.5]})
    assert claim.line() == "PASS q9.x.y: a < min(b) [a=0.1235, b=[1, 2.5]]"
    assert claim.question == "q9"


def test_duplicate_claim_ids_are_refused():
    a, b = Claim("q1.a", "", "True"), Claim("q1.b", "", "True")
    assert C.by_id([a, b]) == {"q1.a": a, "q1.b": b}
    with pytest.raises(ValueError, match="claim ids used twice: q1.a"):
        C.by_id([a, b, Claim("q1.a", "", "False")])


def test_enforce_fails_the_full_build_and_only_reports_under_smoke(monkeypatch):
    good = Claim("t.good", "", "1 < 2")
    bad = Claim("t.bad", "", "x > 1", {"x": 0.5})
    monkeypatch.setenv("EX2_PROFILE", "full")
    assert C.enforce([good]) == [good]
    with pytest.raises(ClaimFailed) as info:
        C.enforce([good, bad])
    assert "FAIL t.bad: x > 1 [x=0.5]" in str(info.value) and "t.good" not in str(info.value)
    monkeypatch.delenv("EX2_PROFILE")  # the default profile is the full one
    with pytest.raises(ClaimFailed):
        C.enforce([bad])
    monkeypatch.setenv("EX2_PROFILE", "smoke")
    assert C.enforce([good, bad]) == [good, bad]


# --------------------------------------------------------------------------- Q1


L1 = {(4, 4): 0.080, (4, 16): 0.050, (16, 4): 0.070, (16, 16): 0.030}


def q1_quality(border=0.30, background=0.01, core=0.10):
    """The measured pattern: c=16 models err most on stroke borders, c=4 models (faint strokes)
    in the stroke cores; `border`/`core` are the c=16 values, swapped for c=4."""
    return {
        key: {
            "error": {
                "background": background,
                "border": border if key[0] == 16 else core,
                "core": core if key[0] == 16 else border,
            },
            "error_share": {"background": 0.2, "border": 0.6, "core": 0.2},
            "pixel_share": {"background": 0.8, "border": 0.1, "core": 0.1},
            "core_brightness": 0.6 if key[0] == 4 else 0.9,
            "input_core_brightness": 0.95,
            "recognised": 0.98 if key == (16, 16) else 0.9,
        }
        for key in L1
    }


def q1_claims(l1: dict, quality=None) -> dict[str, Claim]:
    """Q1's claims as its page builds them, from synthetic L1s and quality measurements."""
    trained, final = {}, {}
    for (c, d), value in l1.items():
        final[(c, d)] = {"test_l1": value, "train_l1": value * 0.99}
        trained[(c, d)] = SimpleNamespace(
            config=SimpleNamespace(base=c, latent=d),
            history=SimpleNamespace(test_loss=[value * 1.001, value]),
            model=ConvAutoencoder(c, d),
        )
    _, claims = q1.describe(trained, final, quality or q1_quality())
    return C.by_id(claims)


def test_q1_claims_hold_on_the_real_pattern():
    claims = q1_claims(L1)
    assert all(c.holds for c in claims.values()), [c.line() for c in claims.values()]


def swapped(d: dict, *pairs) -> dict:
    out = dict(d)
    for a, b in pairs:
        out[a], out[b] = d[b], d[a]
    return out


def test_q1_latent_claim_fails_when_the_latent_sizes_swap_their_l1():
    claims = q1_claims(swapped(L1, ((4, 4), (4, 16)), ((16, 4), (16, 16))))
    assert not claims["q1.c.latent"].holds
    assert claims["q1.c.channels"].holds  # the other knob's claim is not affected


def test_q1_channel_claim_fails_when_the_channel_counts_swap_their_l1():
    claims = q1_claims(swapped(L1, ((4, 4), (16, 4)), ((4, 16), (16, 16))))
    assert not claims["q1.c.channels"].holds
    assert claims["q1.c.latent"].holds


def test_q1_latent_and_channel_claims_directly():
    assert q1.latent_claim({4: -0.2, 16: -0.5}).holds
    assert not q1.latent_claim({4: -0.2, 16: +0.1}).holds
    assert q1.channel_claim({4: -0.1, 16: -0.3}).holds
    assert not q1.channel_claim({4: +0.1, 16: -0.3}).holds


def test_q1_error_and_overfitting_claims_fail_on_perturbed_measurements():
    assert not q1_claims(L1, q1_quality(border=0.05))["q1.c.error_on_strokes"].holds
    overfit = q1.gap_claim({(4, 4): {"train_l1": 0.02, "test_l1": 0.05}})
    assert not overfit.holds


def test_q1_still_falling_claim_follows_the_last_epoch():
    falling = {
        (4, 4): SimpleNamespace(
            config=SimpleNamespace(base=4, latent=4),
            history=SimpleNamespace(test_loss=[0.10, 0.08]),
        )
    }
    claim = q1.falling_claim(falling)
    assert claim.holds and "c=4, d=4 (-20.0 %)" in claim.text
    falling[(4, 4)].history.test_loss = [0.080, 0.0799]
    claim = q1.falling_claim(falling)
    assert claim.holds and "less than 1 %" in claim.text
    # the sentence of the first case, on the numbers of the second, is false
    assert not Claim("x", "", "min(changes) < -0.01", claim.values).holds


# --------------------------------------------------------------------------- Q2


def test_q2_errors_follow_the_draw_only_when_the_confusion_mass_does():
    labels = np.repeat(np.arange(10), 100)
    counts = [8, 15, 9, 9, 9, 9, 9, 14, 9, 9]  # the draw over-represents 1 and 7
    assert sum(counts) == 100

    def predictions_with_errors(into: dict[int, int]) -> np.ndarray:
        """The true labels, with `n` images of other digits predicted as `column`."""
        pred, changed = labels.copy(), np.zeros(len(labels), dtype=bool)
        for column, n in into.items():
            idx = np.flatnonzero((labels != column) & ~changed)[:n]
            pred[idx], changed[idx] = column, True
        return pred

    real = q2.errors_follow_draw_claim(
        predictions_with_errors({1: 90, 7: 80, 4: 30}), labels, counts
    )
    assert real.holds, real.line()
    assert real.values["top_error_columns"] == [1, 7]
    moved = predictions_with_errors({3: 90, 5: 80, 4: 30})  # the same mass, other columns
    assert not q2.errors_follow_draw_claim(moved, labels, counts).holds
    even = predictions_with_errors({d: 20 for d in range(10) if d not in (1, 7)} | {1: 21, 7: 21})
    spread_out = q2.errors_follow_draw_claim(even, labels, counts)
    assert spread_out.values["top_error_columns"] == [1, 7] and not spread_out.holds


def test_q2_memorised_claim_needs_a_train_test_gap():
    run = SimpleNamespace(
        final={"train_accuracy": 1.0, "test_accuracy": 0.7, "train_loss": 0.01, "test_loss": 1.2}
    )
    assert q2.memorised_claim(run).holds
    run.final |= {"train_accuracy": 0.75, "train_loss": 1.0}
    assert not q2.memorised_claim(run).holds


# --------------------------------------------------------------------------- Q3


def fake_run(seconds: float, task: str, model) -> SimpleNamespace:
    return SimpleNamespace(train_seconds=seconds, config=SimpleNamespace(task=task), model=model)


Q3_SUBSET = {"q3": [0.75, 0.78, 0.74, 0.77, 0.76], "q2": [0.68, 0.70, 0.65, 0.71, 0.69]}
Q3_FULL = {"q2": [0.991, 0.990, 0.992], "q3": [0.960, 0.962, 0.958]}


def accuracies(subset: dict, full: dict) -> dict:
    return {
        (who, part): acc[who] for part, acc in (("subset", subset), ("full", full)) for who in acc
    }


def test_q3_subset_verdict_follows_the_data_and_its_sentence_is_false_when_swapped():
    real = q3.subset_verdict(accuracies(Q3_SUBSET, Q3_FULL))
    assert real.holds and real.text.startswith("**Yes, with few labels.**")
    flipped = {"q3": Q3_SUBSET["q2"], "q2": Q3_SUBSET["q3"]}
    other = q3.subset_verdict(accuracies(flipped, Q3_FULL))
    assert other.text.startswith("**Not clearly")  # the wording follows the numbers
    # the real sentence, checked against the swapped numbers, fails
    assert not Claim(real.id, real.text, real.condition, other.values).holds
    one_loss = {"q3": Q3_SUBSET["q3"][:-1] + [0.60], "q2": Q3_SUBSET["q2"]}
    assert not Claim(
        real.id, "", real.condition, q3.subset_verdict(accuracies(one_loss, Q3_FULL)).values
    ).holds  # ahead on 4 of 5 draws only


def test_q3_full_verdict_fails_with_swapped_accuracies_or_speeds():
    end_to_end = fake_run(100.0, "classifier", Classifier(2, 4))
    head = fake_run(5.0, "head", Classifier(2, 4))
    runs = ({"full": end_to_end}, {"full": head})
    real = q3.full_verdict(accuracies(Q3_SUBSET, Q3_FULL), *runs)
    assert real.holds, real.line()
    assert "20× faster" in real.text and f"{4 * 10 + 10} trainable" in real.text
    flipped = {"q2": Q3_FULL["q3"], "q3": Q3_FULL["q2"]}
    assert not q3.full_verdict(accuracies(Q3_SUBSET, flipped), *runs).holds
    slower = (
        {"full": fake_run(5.0, "classifier", None)},
        {"full": fake_run(100.0, "head", head.model)},
    )
    assert not q3.full_verdict(accuracies(Q3_SUBSET, Q3_FULL), *slower).holds


def q3_curves(q2_subset: dict, q3_subset: dict, q3_full: dict) -> Claim:
    model = Classifier(2, 4)
    q2_runs = {
        "subset": SimpleNamespace(
            final=q2_subset, config=SimpleNamespace(task="classifier"), model=model
        )
    }
    q3_runs = {
        "subset": SimpleNamespace(final=q3_subset),
        "full": SimpleNamespace(final=q3_full),
    }
    return q3.curves_claim(q2_runs, q3_runs)


def test_q3_curves_claim_fails_when_the_head_overfits_like_the_cnn():
    memorising = {"train_loss": 1e-4, "test_loss": 1.5}
    head = {"train_loss": 0.9, "test_loss": 1.1}
    full = {"train_accuracy": 0.96, "test_accuracy": 0.962}
    assert q3_curves(memorising, head, full).holds
    assert not q3_curves(memorising, memorising, full).holds
    assert not q3_curves(memorising, head, {"train_accuracy": 0.99, "test_accuracy": 0.96}).holds


# --------------------------------------------------------------------------- Q4


def q4_spread(code: dict, recon: dict) -> dict:
    spread = {"input": {"within": 10.0, "between": 6.0, "ratio": 0.6}}
    for k in ("autoencoder", "classifier"):
        spread[f"recon {k}"] = {"within": recon[k], "between": 6.0, "ratio": 6.0 / recon[k]}
        spread[f"code {k}"] = {"within": 1.0, "between": code[k], "ratio": code[k]}
    return spread


def q4_claims(l1: dict, code=None, recon=None, own=0.031) -> dict[str, Claim]:
    trained = {k: SimpleNamespace(final={"test_l1": v}) for k, v in l1.items()}
    code = code or {"autoencoder": 0.8, "classifier": 2.5}
    recon = recon or {"autoencoder": 8.0, "classifier": 6.0}
    _, claims = q4.describe(trained, q4_spread(code, recon), own)
    return C.by_id(claims)


Q4_L1 = {"autoencoder": 0.030, "classifier": 0.090}


def test_q4_claims_hold_on_the_real_pattern():
    claims = q4_claims(Q4_L1)
    assert all(c.holds for c in claims.values()), [c.line() for c in claims.values()]


def test_q4_better_claim_fails_with_the_two_l1s_swapped():
    assert q4.better_claim(Q4_L1).holds
    flipped = {"autoencoder": Q4_L1["classifier"], "classifier": Q4_L1["autoencoder"]}
    assert not q4.better_claim(flipped).holds
    claims = q4_claims(flipped)
    assert not claims["q4.a.better"].holds and not claims["q4.a.own_decoder"].holds


def test_q4_variability_and_separation_claims_fail_when_the_encoders_swap():
    claims = q4_claims(
        Q4_L1,
        code={"autoencoder": 2.5, "classifier": 0.8},
        recon={"autoencoder": 6.0, "classifier": 8.0},
    )
    assert not claims["q4.c.variability"].holds
    assert not claims["q4.d.separation"].holds
    assert claims["q4.a.better"].holds


def test_q4_own_decoder_claim_needs_the_fresh_decoder_close_to_the_own_one():
    assert q4.own_decoder_claim(0.0305, 0.0300).holds
    assert not q4.own_decoder_claim(0.0400, 0.0300).holds


# --------------------------------------------------------------------------- beyond the exercise


def test_shift_claims_fail_on_a_flat_or_rising_curve():
    assert shift.falls_claim([0.99, 0.95, 0.85, 0.75, 0.65]).holds
    assert not shift.falls_claim([0.99, 0.99, 0.99, 0.98, 0.97]).holds  # flat: no fall
    assert not shift.falls_claim([0.99, 0.95, 0.96, 0.75, 0.65]).holds  # not monotone
    assert shift.consistency_claim(0.95).holds and not shift.consistency_claim(0.995).holds


def test_spread_claims_fail_when_the_floor_wins_or_seeds_vary_as_much_as_draws():
    subset = {"q2": [0.70, 0.66, 0.73], "q3": [0.76, 0.74, 0.78], "nn": [0.65, 0.62, 0.67]}
    full = {"q2": [0.9910, 0.9912, 0.9909], "q3": [0.96, 0.961, 0.959]}
    assert spread.floor_claim(subset).holds
    assert not spread.floor_claim({**subset, "nn": [0.65, 0.70, 0.67]}).holds
    assert spread.draw_matters_claim(subset, full).holds
    assert not spread.draw_matters_claim(subset, {**full, "q2": [0.95, 0.99, 0.91]}).holds


def test_q3_subset_verdict_on_a_tie_says_not_clearly():
    """`either` picks the sentence; its claim then guards the sentence it picked."""
    assert C.either(True, "a", "b") == "a" and C.either(False, "a", "b") == "b"
    tie = {"q3": [0.70] * 5, "q2": [0.70] * 5}
    claim = q3.subset_verdict(accuracies(tie, Q3_FULL))
    assert claim.holds and claim.text.startswith("**Not clearly") and "ahead on 0" in claim.text
