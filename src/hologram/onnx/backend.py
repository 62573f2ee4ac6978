"""`hologram.onnx.backend`: the `onnx.backend.base.Backend` interface over hologram.

    import hologram.onnx.backend as backend
    rep = backend.prepare(model, device="CPU")
    outputs = rep.run([x])

`prepare` compiles the model, writes the `.holo` artifact to memory and loads it back, so
every use of this interface (onnx's node tests among them) goes through the whole path a
user's model takes: compiler, artifact, runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from onnx.backend.base import Backend, BackendRep, Device, DeviceType

import onnx
from hologram.artifact.model import model_to_bytes, read_model
from hologram.compiler.compile import compile_model
from hologram.runtime.model import Model

DEVICE_BACKENDS = {"CPU": "cpu", "CUDA": "cuda"}
"""ONNX device names -> the hologram backend that serves them."""
DEFAULT_CPU_BACKEND = "cpu"


class HologramRep(BackendRep):
    """A prepared model: `run(inputs)` takes arrays in the graph's input order."""

    def __init__(self, model: Model) -> None:
        self.model = model

    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Run with `inputs` (a list in input order, a dict, or one array)."""
        names = [info.name for info in self.model.inputs]
        if isinstance(inputs, dict):
            feeds = dict(inputs)
        else:
            if isinstance(inputs, np.ndarray) or not isinstance(inputs, Sequence):
                inputs = [inputs]
            feeds = dict(zip(names, inputs, strict=False))
        results = self.model.run(feeds)
        return tuple(results[info.name] for info in self.model.outputs)


class HologramBackend(Backend):
    """onnx's backend interface for hologram (cpu, and cuda where present)."""

    cpu_backend = DEFAULT_CPU_BACKEND

    @classmethod
    def _backend_name(cls, device: str) -> str:
        kind = Device(device).type
        return cls.cpu_backend if kind == DeviceType.CPU else "cuda"

    @classmethod
    def supports_device(cls, device: str) -> bool:
        from hologram.backends import availability

        return availability(cls._backend_name(device))[0]

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> HologramRep:
        """Compile `model`, round-trip it through a `.holo` image, bind it to `device`."""
        compiled = read_model(model_to_bytes(compile_model(model)))
        return HologramRep(Model(compiled, cls._backend_name(device)))

    @classmethod
    def run_model(
        cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any
    ) -> tuple[Any, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(
        cls,
        node: onnx.NodeProto,
        inputs: Any,
        device: str = "CPU",
        outputs_info: Sequence[tuple[Any, Any]] | None = None,
        **kwargs: Any,
    ) -> tuple[Any, ...]:
        raise NotImplementedError("hologram runs whole models; use prepare or run_model")


prepare = HologramBackend.prepare
run_model = HologramBackend.run_model
run_node = HologramBackend.run_node
supports_device = HologramBackend.supports_device
