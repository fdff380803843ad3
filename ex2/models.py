"""The exercise's networks: a strided-conv encoder, its mirrored decoder, and a linear classifier
head.

Two knobs, independent of each other: `base_channels` c sets the channel pyramid c -> 2c -> 4c, and
`latent_dim` d is the width of the bottleneck. Only the last Linear layer of the encoder (and the
first of the decoder) sees d, so every positive (c, d) pair works without touching the conv stack.
"""

from __future__ import annotations

import torch
from torch import nn

FINAL_SIZE = 4  # 28 -> 14 -> 7 -> 4 after three stride-2, padding-1, 3x3 convs
NUM_CLASSES = 10


def check_positive_int(name: str, value) -> int:
    # bool is an int subclass; True as a channel count is a bug, not a 1.
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 stride-2 conv, BatchNorm, ReLU: halves the side (rounding up)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1, bias=False),  # BN adds the bias
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def deconv_block(c_in: int, c_out: int, output_padding: int) -> nn.Sequential:
    """3x3 stride-2 transposed conv, BatchNorm, ReLU: the mirror of `conv_block`."""
    return nn.Sequential(
        nn.ConvTranspose2d(
            c_in,
            c_out,
            kernel_size=3,
            stride=2,
            padding=1,
            output_padding=output_padding,
            bias=False,
        ),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class Encoder(nn.Module):
    def __init__(self, base_channels: int, latent_dim: int):
        super().__init__()
        c = check_positive_int("base_channels", base_channels)
        d = check_positive_int("latent_dim", latent_dim)
        self.base_channels, self.latent_dim = c, d
        self.features = nn.Sequential(
            conv_block(1, c),  # [B, 1, 28, 28] -> [B, c, 14, 14]
            conv_block(c, 2 * c),  # -> [B, 2c, 7, 7]
            conv_block(2 * c, 4 * c),  # -> [B, 4c, 4, 4]
            nn.Flatten(),  # -> [B, 4c * 16]
        )
        self.to_latent = nn.Linear(4 * c * FINAL_SIZE**2, d)  # -> [B, d]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_latent(self.features(x))


class Decoder(nn.Module):
    def __init__(self, base_channels: int, latent_dim: int):
        super().__init__()
        c = check_positive_int("base_channels", base_channels)
        d = check_positive_int("latent_dim", latent_dim)
        self.base_channels, self.latent_dim = c, d
        self.from_latent = nn.Sequential(
            nn.Linear(d, 4 * c * FINAL_SIZE**2),  # [B, d] -> [B, 4c * 16]
            nn.ReLU(inplace=True),
            nn.Unflatten(1, (4 * c, FINAL_SIZE, FINAL_SIZE)),  # -> [B, 4c, 4, 4]
        )
        # Transposed-conv output side: (n - 1) * 2 - 2 + 3 + output_padding.
        self.upsample = nn.Sequential(
            deconv_block(4 * c, 2 * c, output_padding=0),  # -> [B, 2c, 7, 7]
            deconv_block(2 * c, c, output_padding=1),  # -> [B, c, 14, 14]
            nn.ConvTranspose2d(
                c, 1, kernel_size=3, stride=2, padding=1, output_padding=1
            ),  # -> [B, 1, 28, 28]
            nn.Sigmoid(),  # pixels live in [0, 1]
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.from_latent(z))


class ConvAutoencoder(nn.Module):
    def __init__(self, base_channels: int, latent_dim: int):
        super().__init__()
        self.encoder = Encoder(base_channels, latent_dim)
        self.decoder = Decoder(base_channels, latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))  # [B, 1, 28, 28] -> [B, d] -> [B, 1, 28, 28]


class Classifier(nn.Module):
    """The Q1 encoder followed by one Linear(d, 10) layer (the exercise's "single-layered MLP")."""

    def __init__(self, base_channels: int, latent_dim: int):
        super().__init__()
        self.encoder = Encoder(base_channels, latent_dim)
        self.head = nn.Linear(latent_dim, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))  # [B, 1, 28, 28] -> [B, d] -> [B, 10] logits


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
