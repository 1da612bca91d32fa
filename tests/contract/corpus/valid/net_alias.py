"""Net bound by assignment to a class of the file: `Net = Captioner`."""
import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class Captioner(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.vocab_size = out_shape[0]
        channels = in_shape[1]
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 32),
        )
        self.embed = nn.Embedding(self.vocab_size, 32)
        self.dropout = nn.Dropout(prm['dropout'])
        self.lstm = nn.LSTM(32, 32, batch_first=True)
        self.head = nn.Linear(32, self.vocab_size)
        self.to(device)

    def train_setup(self, prm):
        self.criterion = nn.CrossEntropyLoss(ignore_index=0)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for images, captions in train_data:
            images, captions = images.to(self.device), captions.to(self.device)
            if captions.dim() == 3:
                captions = captions[:, 0, :]
            logits, _ = self.forward(images, captions)
            loss = self.criterion(logits.reshape(-1, self.vocab_size), captions[:, 1:].reshape(-1))
            self.optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 5.0)
            self.optimizer.step()

    def _initial_state(self, images):
        feature = self.encoder(images)  # [B, 32]
        return feature.unsqueeze(0), torch.zeros_like(feature).unsqueeze(0)

    def forward(self, images, captions=None, hidden_state=None):
        if hidden_state is None:
            hidden_state = self._initial_state(images)
        if captions is not None:
            if captions.dim() == 3:
                captions = captions[:, 0, :]
            inputs = self.dropout(self.embed(captions[:, :-1]))  # [B, T-1, 32]
            output, hidden_state = self.lstm(inputs, hidden_state)
            return self.head(output), hidden_state
        token = torch.full((images.size(0), 1), 1, dtype=torch.long, device=images.device)
        ids = []
        for _ in range(12):
            output, hidden_state = self.lstm(self.embed(token), hidden_state)
            token = self.head(output).argmax(-1)
            ids.append(token)
        return torch.cat(ids, dim=1), hidden_state


Net = Captioner
