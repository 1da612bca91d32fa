"""A model that reads captions as [B, T] only: one reference per image."""
import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'weight_decay'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.vocab_size = out_shape[0]
        self.encoder = nn.Sequential(nn.Flatten(), nn.LazyLinear(32))
        self.embed = nn.Embedding(self.vocab_size, 32)
        self.lstm = nn.LSTM(32, 32, batch_first=True)
        self.head = nn.Linear(32, self.vocab_size)
        self.encoder(torch.zeros(1, *in_shape[1:]))  # materialise the lazy layer
        self.to(device)

    def train_setup(self, prm):
        self.criterion = nn.CrossEntropyLoss(ignore_index=0)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=prm['lr'], weight_decay=prm['weight_decay'])

    def learn(self, train_data):
        for images, captions in train_data:
            logits = self.forward(images, captions)
            batch, steps = captions.shape
            loss = self.criterion(logits.reshape(batch * (steps - 1), -1), captions[:, 1:].reshape(-1))
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()

    def forward(self, images, captions=None, hidden_state=None):
        feature = self.encoder(images).unsqueeze(1)  # [B, 1, 32]
        if captions is None:
            captions = torch.ones(images.size(0), 11, dtype=torch.long, device=images.device)
            output, _ = self.lstm(torch.cat([feature, self.embed(captions[:, :1])], 1))
            return self.head(output).argmax(-1)
        batch, steps = captions.shape
        inputs = torch.cat([feature, self.embed(captions[:, : steps - 1])], dim=1)  # [B, T, 32]
        output, _ = self.lstm(inputs)
        return self.head(output[:, 1:])  # [B, T-1, V]
