"""SqueezeNet 1.1 style: fire modules (1×1 squeeze, then parallel 1×1 and 3×3 expand)."""

import torch
import torch.nn as nn

FAMILY = "squeezenet"
DEFAULT_WIDTH = 8  # squeeze channels of the first fire modules; later ones use 2, 3 and 4 times that
STRIDE = 8  # three max poolings: a 32×32 image gives a 4×4 grid
EXPAND_RATIO = 4  # each expand branch has 4 times the squeeze channels, as in SqueezeNet


class Fire(nn.Module):
    """Squeeze to `squeeze` channels with a 1×1 conv, then concatenate 1×1 and 3×3 expansions."""

    def __init__(self, in_channels, squeeze):
        super().__init__()
        expand = EXPAND_RATIO * squeeze
        self.squeeze = nn.Sequential(nn.Conv2d(in_channels, squeeze, 1), nn.BatchNorm2d(squeeze), nn.ReLU(inplace=True))
        self.expand1x1 = nn.Conv2d(squeeze, expand, 1)
        self.expand3x3 = nn.Conv2d(squeeze, expand, 3, 1, 1)
        self.out_channels = 2 * expand

    def forward(self, x):
        s = self.squeeze(x)
        return torch.relu(torch.cat([self.expand1x1(s), self.expand3x3(s)], dim=1))


class Features(nn.Module):
    """3×3 stem, then pairs of fire modules separated by 3×3 stride-2 max pooling."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        stem_channels = 8 * width
        layers = [
            nn.Conv2d(in_channels, stem_channels, 3, 1, 1),
            nn.BatchNorm2d(stem_channels),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        ]
        previous = stem_channels
        for index, multiple in enumerate((1, 2, 3, 4)):
            for _ in range(2):
                fire = Fire(previous, multiple * width)
                layers.append(fire)
                previous = fire.out_channels
            if index < 2:
                layers.append(nn.MaxPool2d(3, 2, 1))
        self.layers = nn.Sequential(*layers)
        self.out_channels = previous

    def forward(self, x):
        return self.layers(x)


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
