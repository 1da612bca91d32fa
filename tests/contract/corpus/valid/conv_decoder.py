"""A causal 1-D convolution decoder: every convolution is padded on the left only."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class CausalConv(nn.Module):
    def __init__(self, width, kernel_size):
        super().__init__()
        self.pad = kernel_size - 1
        self.conv = nn.Conv1d(width, 2 * width, kernel_size)

    def forward(self, x):
        # x: [B, C, T]
        return F.glu(self.conv(F.pad(x, (self.pad, 0))), dim=1) + x


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.vocab_size = out_shape[0]
        self.image = nn.Sequential(nn.Conv2d(in_shape[1], 24, 5, stride=4), nn.GELU(), nn.AdaptiveMaxPool2d(1))
        self.embed = nn.Embedding(self.vocab_size, 24)
        self.layers = nn.Sequential(CausalConv(24, 3), nn.Dropout(prm['dropout']), CausalConv(24, 3))
        self.head = nn.Linear(24, self.vocab_size)
        self.to(device)

    def train_setup(self, prm):
        self.criterion = nn.CrossEntropyLoss(ignore_index=0, label_smoothing=0.1)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'], nesterov=True)

    def learn(self, train_data):
        self.train()
        for images, captions in train_data:
            tokens = captions[:, 0] if captions.dim() == 3 else captions
            tokens = tokens.to(self.device)
            logits = self(images.to(self.device), tokens)
            loss = self.criterion(logits.reshape(-1, self.vocab_size), tokens[:, 1:].reshape(-1))
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()

    def logits(self, images, tokens):
        image = self.image(images).flatten(1).unsqueeze(-1)  # [B, 24, 1]
        x = self.embed(tokens).transpose(1, 2) + image  # [B, 24, T]
        return self.head(self.layers(x).transpose(1, 2))  # [B, T, V]

    def forward(self, images, captions=None, hidden_state=None):
        if captions is not None:
            tokens = captions[:, 0] if captions.dim() == 3 else captions
            return self.logits(images, tokens[:, :-1])
        tokens = torch.ones(images.size(0), 1, dtype=torch.long, device=images.device)
        for _ in range(10):
            tokens = torch.cat([tokens, self.logits(images, tokens)[:, -1:].argmax(-1)], dim=1)
        return tokens[:, 1:]
