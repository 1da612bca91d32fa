"""CNN encoder + LSTM decoder with additive attention over the spatial grid (Show, Attend and Tell)."""

import torch
import torch.nn as nn
import torch.nn.functional as F

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
ATTENTION_DIM = 128
DROPOUT = 0.1


class AdditiveAttention(nn.Module):
    """Bahdanau attention: score_i = v·tanh(W_f f_i + W_h h), context = Σ softmax(score)_i f_i."""

    def __init__(self, feature_dim, hidden_dim, attention_dim):
        super().__init__()
        self.feature_proj = nn.Linear(feature_dim, attention_dim)
        self.hidden_proj = nn.Linear(hidden_dim, attention_dim)
        self.score = nn.Linear(attention_dim, 1)

    def forward(self, features, projected, hidden):
        # features [B, N, D], projected = feature_proj(features) [B, N, A], hidden [B, H]
        scores = self.score(torch.tanh(projected + self.hidden_proj(hidden).unsqueeze(1)))  # [B, N, 1]
        weights = F.softmax(scores, dim=1)
        return (weights * features).sum(dim=1)  # context [B, D]


class Net(nn.Module):
    """Encode the image to a grid of N = GRID² vectors; at each step an LSTM cell reads the
    previous token and an attention-weighted context of the grid."""

    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        vocab_size = out_shape[0]
        self.encoder = Encoder(in_shape[1], ENCODER_WIDTH)
        feature_dim = self.encoder.out_channels
        self.attention = AdditiveAttention(feature_dim, HIDDEN_DIM, ATTENTION_DIM)
        self.init_h = nn.Linear(feature_dim, HIDDEN_DIM)
        self.init_c = nn.Linear(feature_dim, HIDDEN_DIM)
        self.embed = nn.Embedding(vocab_size, EMBED_DIM, padding_idx=PAD_ID)
        self.cell = nn.LSTMCell(EMBED_DIM + feature_dim, HIDDEN_DIM)
        self.dropout = nn.Dropout(DROPOUT)
        self.out = nn.Linear(HIDDEN_DIM + feature_dim, vocab_size)
        self.to(device)

    def encode(self, images):
        return self.encoder(images).flatten(2).transpose(1, 2)  # grid vectors [B, N, D]

    def decode(self, features, inputs):
        """Logits [B, T, V] for input tokens [B, T]; step t reads only tokens <= t."""
        pooled = features.mean(dim=1)  # [B, D]
        h, c = torch.tanh(self.init_h(pooled)), torch.tanh(self.init_c(pooled))
        projected = self.attention.feature_proj(features)  # [B, N, A], shared by all steps
        embedded = self.dropout(self.embed(inputs))  # [B, T, E]

        logits = []
        for t in range(inputs.size(1)):
            context = self.attention(features, projected, h)  # [B, D]
            h, c = self.cell(torch.cat([embedded[:, t], context], dim=1), (h, c))
            logits.append(self.out(self.dropout(torch.cat([h, context], dim=1))))
        if not logits:
            return features.new_zeros(inputs.size(0), 0, self.out.out_features)
        return torch.stack(logits, dim=1)

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
