import pytest
import torch

from ex2.models import Classifier, ConvAutoencoder, Decoder, Encoder, count_parameters

GRID = [(1, 1), (2, 3), (4, 4), (4, 16), (16, 4), (16, 16), (5, 33)]


@pytest.mark.parametrize("base,latent", GRID)
def test_shapes_for_any_positive_pair(base, latent):
    x = torch.rand(3, 1, 28, 28)
    enc, dec = Encoder(base, latent), Decoder(base, latent)
    z = enc(x)
    assert z.shape == (3, latent)
    assert dec(z).shape == (3, 1, 28, 28)
    assert ConvAutoencoder(base, latent)(x).shape == (3, 1, 28, 28)
    assert Classifier(base, latent)(x).shape == (3, 10)


def test_encoder_pyramid_is_c_2c_4c_down_to_4x4():
    enc = Encoder(4, 8)
    x = torch.rand(2, 1, 28, 28)
    sides = []
    for block in list(enc.features)[:3]:
        x = block(x)
        sides.append(tuple(x.shape[1:]))
    assert sides == [(4, 14, 14), (8, 7, 7), (16, 4, 4)]


def test_reconstruction_is_in_unit_interval():
    out = ConvAutoencoder(4, 4)(torch.randn(8, 1, 28, 28) * 10)
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("bad", [0, -1, 2.5, "4", None, True])
@pytest.mark.parametrize("cls", [Encoder, Decoder, ConvAutoencoder, Classifier])
def test_invalid_sizes_raise_value_error(cls, bad):
    with pytest.raises(ValueError, match="must be a positive int"):
        cls(bad, 4)
    with pytest.raises(ValueError, match="must be a positive int"):
        cls(4, bad)


@pytest.mark.parametrize("model_cls", [ConvAutoencoder, Classifier])
def test_every_parameter_gets_a_gradient(model_cls):
    torch.manual_seed(0)
    model = model_cls(4, 4)
    x = torch.rand(6, 1, 28, 28)
    out = model(x)
    loss = (
        (out - x).abs().mean()
        if model_cls is ConvAutoencoder
        else out.logsumexp(1).mean() - out[:, 3].mean()
    )
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_latent_width_only_changes_the_linear_layers():
    small, wide = Encoder(4, 4), Encoder(4, 16)
    conv_params = count_parameters(small.features)
    assert conv_params == count_parameters(wide.features)
    # per extra latent unit: 4c channels x 4x4 inputs, plus a bias
    assert count_parameters(wide) - count_parameters(small) == 12 * (4 * 4 * 16 + 1)
