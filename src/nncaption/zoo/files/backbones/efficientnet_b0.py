"""EfficientNet-B0: MBConv blocks (expand, depthwise conv, squeeze-and-excitation, project) with SiLU."""

import torch
import torch.nn as nn

FAMILY = "efficientnet"
DEFAULT_WIDTH = 16  # stem channels; EfficientNet-B0 uses 32, so block channels are halved by default
STRIDE = 8  # strided stem and two strided stages: a 32×32 image gives a 4×4 grid

# EfficientNet-B0's stage table (expansion, channels at width 32, repeats, stride, kernel),
# with the 40- and 192-channel stages at stride 1 (B0 strides them) so small images keep a grid.
STAGES = [
    (1, 16, 1, 1, 3),
    (6, 24, 2, 2, 3),
    (6, 40, 2, 1, 5),
    (6, 80, 3, 2, 3),
    (6, 112, 3, 1, 5),
    (6, 192, 4, 1, 5),
    (6, 320, 1, 1, 3),
]
SE_RATIO = 0.25  # squeeze-excitation bottleneck, as a fraction of the block's input channels


def scaled_channels(channels, width):
    """B0 channel count `channels` scaled by width/32, rounded to a multiple of 4, at least 8."""
    return max(8, int(round(channels * width / 32 / 4)) * 4)


class ConvBNSiLU(nn.Sequential):
    def __init__(self, in_channels, out_channels, kernel_size=1, stride=1, groups=1):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.SiLU(inplace=True),
        )


class SqueezeExcitation(nn.Module):
    """Channel gates from globally pooled features: pool, reduce, SiLU, expand, sigmoid."""

    def __init__(self, channels, reduced):
        super().__init__()
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x):
        scale = x.mean(dim=(2, 3), keepdim=True)  # [B, C, 1, 1]
        scale = torch.sigmoid(self.expand(nn.functional.silu(self.reduce(scale))))
        return x * scale


class MBConv(nn.Module):
    """Mobile inverted bottleneck with squeeze-excitation and a shortcut when shapes match."""

    def __init__(self, in_channels, out_channels, expansion, stride, kernel_size):
        super().__init__()
        hidden = in_channels * expansion
        layers = []
        if expansion != 1:
            layers.append(ConvBNSiLU(in_channels, hidden))
        layers.append(ConvBNSiLU(hidden, hidden, kernel_size, stride, groups=hidden))
        layers.append(SqueezeExcitation(hidden, max(1, int(in_channels * SE_RATIO))))
        layers.append(nn.Conv2d(hidden, out_channels, 1, bias=False))
        layers.append(nn.BatchNorm2d(out_channels))
        self.block = nn.Sequential(*layers)
        self.use_shortcut = stride == 1 and in_channels == out_channels

    def forward(self, x):
        out = self.block(x)
        return x + out if self.use_shortcut else out


class Features(nn.Module):
    """Stem, the MBConv stages of STAGES and a 1×1 head conv to 8·width channels."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        previous = scaled_channels(32, width)
        layers = [ConvBNSiLU(in_channels, previous, 3, stride=2)]
        for expansion, channels, repeats, stride, kernel_size in STAGES:
            out_channels = scaled_channels(channels, width)
            for index in range(repeats):
                block_stride = stride if index == 0 else 1
                layers.append(MBConv(previous, out_channels, expansion, block_stride, kernel_size))
                previous = out_channels
        self.out_channels = 8 * width
        layers.append(ConvBNSiLU(previous, self.out_channels))
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
