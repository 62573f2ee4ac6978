"""The end-to-end test models, defined in PyTorch (imported only where torch is installed).

Small but real architectures, each exported to ONNX with a symbolic batch dimension:
an MLP, a ResNet-style CNN, a MobileNet-style CNN, BERT-style and GPT-style transformers built
from `transformers` configs with random weights, and a UNet-style block. Sizes are small so
that the exported files stay small and the tests fast; the operator mix is the real one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

SEED = 20261121


class MLP(nn.Module):
    """Linear, ReLU, Linear, GELU, Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.GELU(), nn.Linear(256, 10)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 conv-BN, a residual (1x1 conv when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                      nn.BatchNorm2d(cout))  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (x if self.down is None else self.down(x)))


class ResNetish(nn.Module):
    """Stem conv-BN-ReLU-maxpool, four basic blocks, global average pool, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32),
                                  nn.ReLU(), nn.MaxPool2d(2))  # fmt: skip
        self.blocks = nn.Sequential(BasicBlock(32, 32, 1), BasicBlock(32, 64, 2),
                                    BasicBlock(64, 64, 1), BasicBlock(64, 128, 2))  # fmt: skip
        self.head = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.blocks(self.stem(x))
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1))


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expand, 3x3 depthwise, 1x1 project, ReLU6, residual."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        self.body = nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.use_residual else y


class MobileNetish(nn.Module):
    """Stem, five inverted residual blocks with depthwise convs, pool, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU6())  # fmt: skip
        self.blocks = nn.Sequential(
            InvertedResidual(16, 16, 1, 1), InvertedResidual(16, 24, 2, 4),
            InvertedResidual(24, 24, 1, 4), InvertedResidual(24, 32, 2, 4),
            InvertedResidual(32, 32, 1, 4),
        )  # fmt: skip
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.blocks(self.stem(x))
        return self.head(y.mean(dim=(2, 3)))


class UNetBlock(nn.Module):
    """Down: conv-GroupNorm-SiLU, strided conv; up: nearest upsample, concat skip,
    conv-InstanceNorm-ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(8, 32, 3, 1, 1), nn.GroupNorm(8, 32), nn.SiLU())
        self.down = nn.Conv2d(32, 64, 3, 2, 1)
        self.mid = nn.Sequential(nn.Conv2d(64, 64, 3, 1, 1), nn.GroupNorm(8, 64), nn.SiLU())
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.dec = nn.Sequential(nn.Conv2d(96, 32, 3, 1, 1), nn.InstanceNorm2d(32, affine=True),
                                 nn.ReLU(), nn.Conv2d(32, 8, 1))  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.enc(x)
        y = self.up(self.mid(self.down(skip)))
        return self.dec(torch.cat([y, skip], dim=1))


def _bert() -> nn.Module:
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=1000, hidden_size=128, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=512,
                        max_position_embeddings=128, attn_implementation="eager")  # fmt: skip
    return _LastHidden(BertModel(config))


def _gpt() -> nn.Module:
    from transformers import GPT2Config, GPT2Model

    config = GPT2Config(vocab_size=1000, n_embd=128, n_layer=2, n_head=4, n_positions=128,
                        attn_implementation="eager", use_cache=False)  # fmt: skip
    return _LastHidden(GPT2Model(config))


class _LastHidden(nn.Module):
    """A transformers model returning its last hidden state only."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids).last_hidden_state


# name -> (builder, example inputs for batch b, input names)
MODELS: dict[str, tuple[Callable[[], nn.Module], Callable[[int], tuple[Any, ...]], list[str]]] = {
    "mlp": (MLP, lambda b: (torch.randn(b, 64),), ["x"]),
    "resnet": (ResNetish, lambda b: (torch.randn(b, 3, 32, 32),), ["image"]),
    "mobilenet": (MobileNetish, lambda b: (torch.randn(b, 3, 64, 64),), ["image"]),
    "unet": (UNetBlock, lambda b: (torch.randn(b, 8, 32, 32),), ["x"]),
    "bert": (_bert, lambda b: (torch.randint(0, 1000, (b, 64)),), ["input_ids"]),
    "gpt": (_gpt, lambda b: (torch.randint(0, 1000, (b, 64)),), ["input_ids"]),
}


DYNAMO = {"gpt"}
"""Models exported with torch's dynamo exporter (the TorchScript one cannot trace their
attention masks); its files keep their weights in an external data file beside them."""


def export(name: str, path: str) -> None:
    """Export model `name` with random weights (seeded) to `path`, batch dimension symbolic."""
    builder, example, input_names = MODELS[name]
    torch.manual_seed(SEED)
    model = builder().eval()
    with torch.no_grad():
        if name in DYNAMO:
            batch = torch.export.Dim("batch")
            torch.onnx.export(
                model,
                example(2),
                path,
                input_names=input_names,
                output_names=["output"],
                dynamic_shapes={n: {0: batch} for n in input_names},
                opset_version=18,
                dynamo=True,
            )
            return
        torch.onnx.export(
            model,
            example(2),
            path,
            input_names=input_names,
            output_names=["output"],
            dynamic_axes={n: {0: "batch"} for n in [*input_names, "output"]},
            opset_version=17,
            dynamo=False,
        )
