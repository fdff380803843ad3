import pytest
import torch

from ex2.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from ex2.models import ConvAutoencoder

CONFIG = {"base": 4, "latent": 8, "seed": 0, "epochs": 1, "subset_size": None}


def trained_model():
    torch.manual_seed(0)
    model = ConvAutoencoder(4, 8)
    model.train()
    model(torch.rand(16, 1, 28, 28))  # move the BN running stats away from their init
    return model.eval()


def test_roundtrip_gives_the_same_outputs_config_and_history(tmp_path):
    model = trained_model()
    history = {"loss_name": "L1", "train_loss": [0.5, 0.25]}
    save_checkpoint(tmp_path / "ck.pt", model, CONFIG, history)
    torch.manual_seed(99)
    other = ConvAutoencoder(4, 8).eval()
    payload = load_checkpoint(tmp_path / "ck.pt", other, CONFIG)
    x = torch.rand(5, 1, 28, 28)
    assert torch.equal(model(x), other(x))
    assert payload["config"] == CONFIG and payload["history"] == history
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # no temp file left


def test_config_mismatch_is_refused_naming_the_key(tmp_path):
    save_checkpoint(tmp_path / "ck.pt", trained_model(), CONFIG)
    with pytest.raises(CheckpointError, match="seed: saved 0, expected 1"):
        load_checkpoint(tmp_path / "ck.pt", ConvAutoencoder(4, 8), {**CONFIG, "seed": 1})


def test_wrong_model_shape_is_a_clear_error(tmp_path):
    save_checkpoint(tmp_path / "ck.pt", trained_model(), CONFIG)
    with pytest.raises(CheckpointError, match="does not fit this model"):
        load_checkpoint(tmp_path / "ck.pt", ConvAutoencoder(4, 16))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing"])
def test_unreadable_checkpoint_is_a_one_line_error(tmp_path, damage):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, trained_model(), CONFIG)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "garbage":
        path.write_bytes(b"\x00" * 64)
    else:
        path.unlink()
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path)
    assert "\n" not in str(info.value)
