"""ResNet with bottleneck blocks (1×1 reduce, 3×3, 1×1 expand by 4) and projection shortcuts."""

import torch
import torch.nn as nn

FAMILY = "resnet"
DEFAULT_WIDTH = 16  # bottleneck channels of the first stage; stages use 1, 2 and 4 times that
STRIDE = 8  # a 32×32 image gives a 4×4 grid
EXPANSION = 4  # a bottleneck block outputs EXPANSION times its inner channels


class Bottleneck(nn.Module):
    """1×1 conv to `inner` channels, strided 3×3 conv, 1×1 conv to EXPANSION·inner, plus shortcut."""

    def __init__(self, in_channels, inner, stride=1):
        super().__init__()
        out_channels = inner * EXPANSION
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, inner, 1, bias=False),
            nn.BatchNorm2d(inner),
            nn.ReLU(inplace=True),
            nn.Conv2d(inner, inner, 3, stride, 1, bias=False),
            nn.BatchNorm2d(inner),
            nn.ReLU(inplace=True),
            nn.Conv2d(inner, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


class Features(nn.Module):
    """Stem and three strided stages of two bottlenecks each; returns [B, 16·width, H/8, W/8]."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        blocks = []
        previous = width
        for inner in (width, 2 * width, 4 * width):
            blocks.append(Bottleneck(previous, inner, stride=2))
            blocks.append(Bottleneck(inner * EXPANSION, inner, stride=1))
            previous = inner * EXPANSION
        self.stages = nn.Sequential(*blocks)
        self.out_channels = previous

    def forward(self, x):
        return self.stages(self.stem(x))


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
