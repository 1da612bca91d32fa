"""Vision Transformer: patch embedding, learned position embeddings and pre-norm encoder blocks."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

FAMILY = "vit"
DEFAULT_WIDTH = 64  # embedding size, rounded to a multiple of HEAD_DIM
STRIDE = 4  # patch size: a 32×32 image gives an 8×8 grid of tokens
HEAD_DIM = 16  # channels per attention head
DEPTH = 4  # encoder blocks (ViT-B uses 12)
MLP_RATIO = 2
BASE_GRID = 8  # position embeddings are learned for this grid and resized for others


class PatchEmbedding(nn.Module):
    """Cut the image into STRIDE×STRIDE patches and project each to `dim` channels."""

    def __init__(self, in_channels, dim):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, STRIDE, STRIDE)

    def forward(self, x):
        return self.proj(x)  # [B, dim, H/STRIDE, W/STRIDE]


class SelfAttention(nn.Module):
    """Multi-head self-attention over all tokens (no mask, so every patch attends to every patch)."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each [B, heads, N, head_dim]
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, dim))


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, MLP_RATIO * dim), nn.GELU(), nn.Linear(MLP_RATIO * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Features(nn.Module):
    """Patch tokens after the encoder, reshaped back to the patch grid [B, dim, H/4, W/4].

    `tokens(x)` returns the same features as a sequence [B, N, dim].
    """

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        heads = max(1, math.ceil(width / HEAD_DIM))
        dim = heads * HEAD_DIM
        self.patch = PatchEmbedding(in_channels, dim)
        self.pos = nn.Parameter(torch.randn(1, dim, BASE_GRID, BASE_GRID) * 0.02)
        self.blocks = nn.Sequential(*[EncoderBlock(dim, heads) for _ in range(DEPTH)])
        self.norm = nn.LayerNorm(dim)
        self.out_channels = dim

    def tokens(self, x):
        grid = self.patch(x)  # [B, dim, h, w]
        pos = self.pos
        if pos.shape[-2:] != grid.shape[-2:]:
            pos = F.interpolate(pos, size=grid.shape[-2:], mode="bilinear", align_corners=False)
        tokens = (grid + pos).flatten(2).transpose(1, 2)  # [B, h·w, dim]
        return self.norm(self.blocks(tokens))

    def forward(self, x):
        batch, _, image_height, image_width = x.shape
        tokens = self.tokens(x)
        grid = tokens.transpose(1, 2)  # [B, dim, h·w]
        return grid.reshape(batch, self.out_channels, image_height // STRIDE, image_width // STRIDE)


def supported_hyperparameters():
    return {"lr", "momentum"}


class Net(nn.Module):
    """Image classifier: Features, global average pooling and a linear layer."""

    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.features = Features(in_shape[1], DEFAULT_WIDTH)
        self.classifier = nn.Linear(self.features.out_channels, out_shape[0])
        self.to(device)

    def forward(self, x):
        grid = self.features(x)  # [B, C, h, w]
        return self.classifier(grid.mean(dim=(2, 3)))  # [B, num_classes]

    def train_setup(self, prm):
        self.criterion = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(
            self.parameters(), lr=prm["lr"], momentum=prm.get("momentum", 0.9)
        )

    def learn(self, train_data):
        self.train()
        for images, labels in train_data:
            images, labels = images.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criterion(self(images), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3.0)
            self.optimizer.step()
