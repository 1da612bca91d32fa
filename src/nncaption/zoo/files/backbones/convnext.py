"""ConvNeXt: 7×7 depthwise conv, LayerNorm and an inverted MLP per block, patchify stem."""

import torch
import torch.nn as nn
import torch.nn.functional as F

FAMILY = "convnext"
DEFAULT_WIDTH = 32  # channels of the first stage; stages use 1, 2 and 4 times that
STRIDE = 8  # 2×2 patchify stem and two 2×2 downsampling layers: a 32×32 image gives a 4×4 grid
DEPTHS = (2, 2, 2)  # blocks per stage (ConvNeXt-T uses 3, 3, 9, 3)
MLP_RATIO = 4
# Initial value of the per-channel residual scale. ConvNeXt uses 1e-6; a larger value lets
# the blocks contribute within the few epochs a search trial trains for.
LAYER_SCALE_INIT = 0.1


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel dimension of a [B, C, H, W] tensor."""

    def __init__(self, channels, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)  # [B, H, W, C]
        x = F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """Depthwise 7×7 conv, LayerNorm, Linear to 4·C, GELU, Linear back, scaled residual."""

    def __init__(self, channels):
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 7, 1, 3, groups=channels)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.expand = nn.Linear(channels, MLP_RATIO * channels)
        self.project = nn.Linear(MLP_RATIO * channels, channels)
        self.gamma = nn.Parameter(torch.full((channels,), LAYER_SCALE_INIT))

    def forward(self, x):
        out = self.depthwise(x).permute(0, 2, 3, 1)  # [B, H, W, C]
        out = self.project(F.gelu(self.expand(self.norm(out))))
        return x + (self.gamma * out).permute(0, 3, 1, 2)


class Features(nn.Module):
    """Patchify stem, then stages of ConvNeXt blocks joined by LayerNorm + 2×2 strided convs."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        dims = [width, 2 * width, 4 * width]
        layers = [nn.Conv2d(in_channels, dims[0], 2, 2), LayerNorm2d(dims[0])]
        for index, (dim, depth) in enumerate(zip(dims, DEPTHS, strict=True)):
            if index > 0:
                layers += [LayerNorm2d(dims[index - 1]), nn.Conv2d(dims[index - 1], dim, 2, 2)]
            layers += [ConvNeXtBlock(dim) for _ in range(depth)]
        layers.append(LayerNorm2d(dims[-1]))
        self.layers = nn.Sequential(*layers)
        self.out_channels = dims[-1]

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
