"""MobileNetV2-style network: inverted residual blocks (1×1 expand, 3×3 depthwise, linear 1×1 project)."""

import torch
import torch.nn as nn

FAMILY = "mobilenet"
DEFAULT_WIDTH = 32  # channels of the stem; block channels scale with it as in MobileNetV2
STRIDE = 8  # stem at stride 1, three strided stages: a 32×32 image gives a 4×4 grid

# (expansion t, output channels as a fraction of width, repeats n, stride of the first block)
# MobileNetV2's table with fewer repeats and strides for small images.
SETTINGS = [
    (1, 0.5, 1, 1),
    (6, 0.75, 2, 2),
    (6, 1.0, 2, 2),
    (6, 2.0, 2, 2),
    (6, 3.0, 1, 1),
]


def scaled_channels(width, fraction):
    """Channels for `fraction` of `width`, rounded to a multiple of 4 and at least 8."""
    return max(8, int(round(width * fraction / 4)) * 4)


class ConvBNReLU6(nn.Sequential):
    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, groups=1):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """Expand with a 1×1 conv, filter with a depthwise 3×3 conv, project back with a linear 1×1 conv.

    The shortcut is used only when the block keeps both the spatial size and the channel count.
    """

    def __init__(self, in_channels, out_channels, stride, expansion):
        super().__init__()
        hidden = in_channels * expansion
        layers = []
        if expansion != 1:
            layers.append(ConvBNReLU6(in_channels, hidden, kernel_size=1))
        layers.append(ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden))
        layers.append(nn.Conv2d(hidden, out_channels, 1, bias=False))
        layers.append(nn.BatchNorm2d(out_channels))
        self.block = nn.Sequential(*layers)
        self.use_shortcut = stride == 1 and in_channels == out_channels

    def forward(self, x):
        out = self.block(x)
        return x + out if self.use_shortcut else out


class Features(nn.Module):
    """Stem, the inverted residual stages of SETTINGS and a final 1×1 conv to 4·width channels."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        previous = scaled_channels(width, 1.0)
        layers = [ConvBNReLU6(in_channels, previous)]
        for expansion, fraction, repeats, stride in SETTINGS:
            out_channels = scaled_channels(width, fraction)
            for index in range(repeats):
                layers.append(InvertedResidual(previous, out_channels, stride if index == 0 else 1, expansion))
                previous = out_channels
        self.out_channels = scaled_channels(width, 4.0)
        layers.append(ConvBNReLU6(previous, self.out_channels, kernel_size=1))
        self.layers = nn.Sequential(*layers)

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
