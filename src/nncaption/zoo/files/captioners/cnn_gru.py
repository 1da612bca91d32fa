"""CNN encoder + GRU decoder whose initial hidden state is a projection of the pooled image features."""

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
EMBED_DIM = 128
HIDDEN_DIM = 256
FEATURE_DIM = 256
POOLED_GRID = 2  # the image vector keeps a 2×2 layout, so "left of" and "above" stay visible
DROPOUT = 0.1


class Net(nn.Module):
    """Pool the image grid to a 2×2 layout and project it to one vector; the GRU starts from
    that vector and also reads it at every step."""

    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        vocab_size = out_shape[0]
        self.encoder = Encoder(in_shape[1], ENCODER_WIDTH)
        self.pool = nn.AdaptiveAvgPool2d(POOLED_GRID)
        self.feature_proj = nn.Sequential(
            nn.Linear(self.encoder.out_channels * POOLED_GRID * POOLED_GRID, FEATURE_DIM),
            nn.ReLU(inplace=True),
        )
        self.init_hidden = nn.Linear(FEATURE_DIM, HIDDEN_DIM)
        self.embed = nn.Embedding(vocab_size, EMBED_DIM, padding_idx=PAD_ID)
        self.gru = nn.GRU(EMBED_DIM + FEATURE_DIM, HIDDEN_DIM, batch_first=True)
        self.dropout = nn.Dropout(DROPOUT)
        self.out = nn.Linear(HIDDEN_DIM, vocab_size)
        self.to(device)

    def encode(self, images):
        pooled = self.pool(self.encoder(images)).flatten(1)  # [B, C·POOLED_GRID²]
        return self.feature_proj(pooled)  # image vector [B, FEATURE_DIM]

    def decode(self, features, inputs):
        """Logits [B, T, V] for input tokens [B, T]; a GRU is causal, so step t depends only on tokens <= t."""
        h0 = torch.tanh(self.init_hidden(features)).unsqueeze(0)  # [1, B, H]
        embedded = self.dropout(self.embed(inputs))  # [B, T, E]
        image = features.unsqueeze(1).expand(-1, inputs.size(1), -1)  # [B, T, FEATURE_DIM]
        outputs, _ = self.gru(torch.cat([embedded, image], dim=2), h0)  # [B, T, H]
        return self.out(self.dropout(outputs))

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
