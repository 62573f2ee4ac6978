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
        """Run one node: compiled as a one-node model over `inputs` (in the node's input
        order), with output types from `outputs_info` where given."""
        from hologram.compiler import types
        from onnx import helper

        arrays = [np.asarray(value) for value in inputs]
        graph_inputs = [
            helper.make_tensor_value_info(name, types.elem_of_numpy(array.dtype), array.shape)
            for name, array in zip(node.input, arrays, strict=False)
            if name
        ]
        infos = list(outputs_info or [])
        graph_outputs = []
        for k, name in enumerate(node.output):
            if k < len(infos):
                elem = helper.np_dtype_to_tensor_dtype(np.dtype(infos[k][0]))
                graph_outputs.append(helper.make_tensor_value_info(name, elem, infos[k][1]))
            else:
                graph_outputs.append(helper.make_empty_tensor_value_info(name))
        domain = node.domain or ""
        opset = kwargs.get("opset_version", onnx.defs.onnx_opset_version())
        model = helper.make_model(
            helper.make_graph([node], "run_node", graph_inputs, graph_outputs),
            opset_imports=[helper.make_opsetid(domain, opset)],
        )
        compiled = compile_model(model, check=False)
        feeds = {name: array for name, array in zip(node.input, arrays, strict=False) if name}
        results = Model(compiled, cls._backend_name(device)).run(feeds)
        return tuple(results[name] for name in node.output)


prepare = HologramBackend.prepare
run_model = HologramBackend.run_model
run_node = HologramBackend.run_node
supports_device = HologramBackend.supports_device
