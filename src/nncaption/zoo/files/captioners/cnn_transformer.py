"""CNN encoder + Transformer decoder: causal self-attention over the caption, cross-attention to the grid."""

import math

import torch
import torch.nn as nn

FAMILY = "vgg"  # the encoder is a small VGG-style stack, so prompts offer other backbone families
PAD_ID = 0
SOS_ID = 1
EOS_ID = 2
MAX_DECODE_LEN = 20  # tokens greedy decoding produces when forward gets no captions
ENCODER_WIDTH = 32  # channels of the first encoder stage
GRID = 8  # the encoder pools its feature map to GRID×GRID positions
GRAD_CLIP = 5.0


def supported_hyperparameters():
    return {"lr"}


class ConvBNReLU(nn.Sequential):
    def __init__(self, in_channels, out_channels):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class Encoder(nn.Module):
    """VGG-style CNN: [B, 3, H, W] -> grid [B, 4·width, GRID, GRID] (stride 4, then adaptive pooling)."""

    def __init__(self, in_channels, width):
        super().__init__()
        self.layers = nn.Sequential(
            ConvBNReLU(in_channels, width),
            ConvBNReLU(width, width),
            nn.MaxPool2d(2),
            ConvBNReLU(width, 2 * width),
            ConvBNReLU(2 * width, 2 * width),
            nn.MaxPool2d(2),
            ConvBNReLU(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(GRID),
        )
        self.out_channels = 4 * width

    def forward(self, images):
        return self.layers(images)
MODEL_DIM = 128
HEADS = 4
LAYERS = 2
FEEDFORWARD_DIM = 256
DROPOUT = 0.1


def sinusoidal_positions(length, dim, device):
    """Fixed sine/cosine position encodings [length, dim] as in "Attention Is All You Need"."""
    position = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    encoding = torch.zeros(length, dim, device=device)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency)
    return encoding


class Net(nn.Module):
    """Captioner whose Transformer decoder reads the encoder grid (GRID² cells plus learned position embeddings) as memory."""

    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        vocab_size = out_shape[0]
        self.encoder = Encoder(in_shape[1], ENCODER_WIDTH)
        self.memory_proj = nn.Linear(self.encoder.out_channels, MODEL_DIM)
        self.memory_pos = nn.Parameter(torch.randn(1, GRID * GRID, MODEL_DIM) * 0.02)
        self.embed = nn.Embedding(vocab_size, MODEL_DIM, padding_idx=PAD_ID)
        layer = nn.TransformerDecoderLayer(
            MODEL_DIM, HEADS, FEEDFORWARD_DIM, DROPOUT, batch_first=True, norm_first=True
        )
        self.decoder = nn.TransformerDecoder(layer, LAYERS)
        self.norm = nn.LayerNorm(MODEL_DIM)
        self.out = nn.Linear(MODEL_DIM, vocab_size)
        self.to(device)

    def encode(self, images):
        grid = self.encoder(images).flatten(2).transpose(1, 2)  # [B, N, C]
        return self.memory_proj(grid) + self.memory_pos  # memory [B, N, MODEL_DIM]

    def decode(self, memory, inputs):
        """Logits [B, T, V] for input tokens [B, T]; the causal mask keeps position t on tokens <= t."""
        length = inputs.size(1)
        # No sqrt(MODEL_DIM) scaling of the embeddings: unscaled ones trained faster on 32×32 images.
        x = self.embed(inputs) + sinusoidal_positions(length, MODEL_DIM, inputs.device)
        # Every token also gets the mean of the memory, a global image summary next to cross-attention.
        x = x + memory.mean(dim=1, keepdim=True)  # [B, T, MODEL_DIM]
        # True above the diagonal: position t may not attend to positions after t.
        causal_mask = torch.triu(torch.ones(length, length, dtype=torch.bool, device=inputs.device), diagonal=1)
        hidden = self.decoder(x, memory, tgt_mask=causal_mask, tgt_is_causal=True)
        return self.out(self.norm(hidden))

    def forward(self, images, captions=None, hidden_state=None):
        """Teacher forcing on captions[:, :-1] -> logits [B, T-1, V]; without captions, greedy ids [B, L].

        `hidden_state` is accepted for Net API compatibility and not used: every call
        starts from the image.
        """
        features = self.encode(images.to(self.device))
        if captions is None:
            return self.greedy_decode(features)
        if captions.dim() == 3:
            captions = captions[:, 0]  # first reference, [B, T]
        return self.decode(features, captions[:, :-1].to(self.device))

    @torch.no_grad()
    def greedy_decode(self, features):
        """Grow each caption from <SOS> by the most likely token; positions after <EOS> get <PAD>."""
        batch = features.size(0)
        tokens = torch.full((batch, 1), SOS_ID, dtype=torch.long, device=features.device)
        finished = torch.zeros(batch, dtype=torch.bool, device=features.device)
        for _ in range(MAX_DECODE_LEN):
            next_token = self.decode(features, tokens)[:, -1].argmax(dim=-1)  # [B]
            next_token = next_token.masked_fill(finished, PAD_ID)
            tokens = torch.cat([tokens, next_token[:, None]], dim=1)
            finished |= next_token == EOS_ID
            if bool(finished.all()):
                break
        return tokens[:, 1:]  # [B, L], without the leading <SOS>

    def train_setup(self, prm):
        self.criterion = nn.CrossEntropyLoss(ignore_index=PAD_ID)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=prm["lr"])

    def learn(self, train_data):
        """Train one epoch with teacher forcing on the first reference caption of each image."""
        self.train()
        for images, captions in train_data:
            images, captions = images.to(self.device), captions.to(self.device)
            if captions.dim() == 3:
                captions = captions[:, 0]  # [B, T]
            logits = self(images, captions)  # [B, T-1, V]
            loss = self.criterion(logits.reshape(-1, logits.size(-1)), captions[:, 1:].reshape(-1))
            self.optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), GRAD_CLIP)
            self.optimizer.step()
