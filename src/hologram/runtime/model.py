"""`Model`: a compiled model bound to a backend, and `hologram.load`.

    m = hologram.load("model.holo")            # opens the file; no graph work
    outputs = m.run({"x": x})                  # or m(x=x)

Feeds are NumPy arrays, or Buffers of the model's executor's backend (and on cuda anything
with `__cuda_array_interface__`, a CuPy array or a PyTorch CUDA tensor, viewed without a
copy): device feeds and `run(..., as_buffers=True)` keep a run's data on the device.

A run validates the feeds, looks up the plan for their shapes (made at compile time, or at
the first run with those shapes and cached), and replays it. A plan made for particular
values of small runtime tensors (a shape fed as an input) carries guards; when one fails the
model plans again for the new values.

A model whose weights are HoloTensor fragments (`hologram.compile(..., holotensor=...)`) runs
at the quality loaded so far; `Model.refine` reads further fragments and updates its weights
in place, between runs.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.compiler import types
from hologram.compiler.compile import CompiledModel
from hologram.compiler.graph import Dim, ValueInfo
from hologram.compiler.memory import plan_arena
from hologram.compiler.plan import Plan
from hologram.compiler.planner import Planner, flat_key
from hologram.errors import FeedError, HologramError, RefineError
from hologram.isa.dtypes import DType
from hologram.memory.buffer import Buffer
from hologram.memory.classes import Allocation
from hologram.runtime.executor import Executor
from hologram.runtime.plan_runner import GuardFailed, PlanRunner

if TYPE_CHECKING:
    from hologram.artifact.model import ModelFile
    from hologram.artifact.model_holo import WeightQuality
    from hologram.holotensor.hot_reload import HotReloadController

MAX_PLANS = 32
"""Plans kept per model (one per input signature); the oldest is dropped beyond that."""


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output: name, kind, element dtype and shape (symbolic dims as str)."""

    name: str
    dtype: np.dtype | None
    shape: tuple[Dim, ...] | None
    kind: str = "tensor"

    def __repr__(self) -> str:
        dims = "?" if self.shape is None else ", ".join(str(d) for d in self.shape)
        return f"TensorInfo({self.name!r}, {self.kind} {self.dtype}[{dims}])"


def _info(value: ValueInfo) -> TensorInfo:
    elem = value.type.elem
    try:
        dtype = types.numpy_dtype(elem) if elem else None
    except Exception:
        dtype = None
    return TensorInfo(value.name, dtype, value.type.shape, value.type.kind)


class Model:
    """A compiled model ready to run on one backend."""

    def __init__(
        self,
        compiled: CompiledModel | ModelFile,
        backend: str | Executor = "auto",
        source: str = "",
    ) -> None:
        """`compiled` is a compiled model, or a model file opened with `open_model`, which is
        then verified and decoded in full on the first run (or `compiled` access)."""
        self.executor = (
            backend
            if isinstance(backend, Executor)
            else Executor(None if backend == "auto" else backend)
        )
        self.source = source
        self._plans: dict[Any, Plan] = {}
        self._runners: dict[Any, PlanRunner] = {}
        self._seen: dict[Any, _Seen] = {}
        """Feed signatures already validated -> how to run them (see `_run_seen`)."""
        self._compiled: CompiledModel | None = None
        self._file: ModelFile | None = None
        if isinstance(compiled, CompiledModel):
            self._adopt(compiled)
            progressive = compiled.holotensor is not None
        else:
            self._file = compiled
            self._graph_inputs, self._graph_outputs = compiled.inputs, compiled.outputs
            progressive = compiled.progressive
        self._reload: HotReloadController | None = None
        """For HoloTensor weights: runs hold its lock, and `refine` writes through it."""
        self._refining = threading.Lock()
        self._copies: dict[str, list[tuple[Buffer, np.ndarray]]] = {}
        if progressive:
            from hologram.holotensor.hot_reload import HotReloadController

            self._reload = HotReloadController({}, self._write_weight)

    def _adopt(self, compiled: CompiledModel) -> None:
        self._compiled = compiled
        self._graph_inputs, self._graph_outputs = compiled.graph.inputs, compiled.graph.outputs
        for plan in compiled.plans:
            self._plans[plan.signature()] = plan

    @property
    def compiled(self) -> CompiledModel:
        """The compiled model (for a model file: verified and decoded on first access)."""
        self._load_file()
        return self._compiled  # type: ignore[return-value]

    def _load_file(self) -> None:
        if self._file is not None:
            self._adopt(self._file.load())
            self._file = None

    # ------------------------------------------------------------ description
    @property
    def inputs(self) -> list[TensorInfo]:
        """The inputs: names, dtypes and shapes (symbolic dimensions as their names)."""
        return [_info(v) for v in self._graph_inputs]

    @property
    def outputs(self) -> list[TensorInfo]:
        """The outputs: names, dtypes and shapes (symbolic dimensions as their names)."""
        return [_info(v) for v in self._graph_outputs]

    @property
    def backend(self) -> str:
        return self.executor.backend_name

    @property
    def quality(self) -> WeightQuality | None:
        """For a file with HoloTensor weights, the quality their decoding (and `refine`)
        reached, per tensor and overall (`.quality`, norm-weighted; `.lowest`); None for a
        model whose weights are stored raw. Asking decodes the file if no run has yet."""
        return self.compiled.weight_quality

    def __repr__(self) -> str:
        return f"Model({self.source or 'in memory'}, backend={self.backend!r})"

    # ------------------------------------------------------------ running
    def __call__(self, **feeds: Any) -> dict[str, Any]:
        """`run(feeds)` with the feeds as keywords."""
        return self.run(feeds)

    def run(self, feeds: dict[str, Any], *, as_buffers: bool = False) -> dict[str, Any]:
        """Run the model; its outputs by name (NumPy arrays, lists for sequences, None for
        empty optionals). A feed is a NumPy array (or array-like), or a Buffer of the model's
        executor's backend, or on cuda any `__cuda_array_interface__` object, taken without
        a copy once the model has run its shapes. `as_buffers=True` returns tensors as
        Buffers of the model's executor, so that they stay in its memory."""
        reload = self._reload
        if reload is None:
            return self._run(feeds, as_buffers)
        with reload.reading():  # `refine` never writes the weights in the middle of a run
            return self._run(feeds, as_buffers)

    def _run(self, feeds: dict[str, Any], as_buffers: bool) -> dict[str, Any]:
        quick = _quick_signature(feeds, self.executor.backend)
        seen = self._seen.get(quick) if quick is not None else None
        if seen is not None:
            outputs = self._run_seen(seen, feeds, as_buffers)
            if outputs is not None:
                return outputs
        flat, input_types = self._validate(feeds)
        key = _signature(flat, input_types)
        self._load_file()  # a model file is verified and decoded before any of it is used
        plan = self._plans.get(key)
        if plan is not None:
            runner = self._runners.get(key)
            if runner is None:
                runner = self._runners[key] = PlanRunner(plan, self.executor)
            try:
                natives = runner.run(flat)
            except GuardFailed:
                self._forget(key)
            else:
                if quick is not None:
                    self._remember(quick, key, runner, input_types)
                return {
                    name: self._collect(
                        binding, lambda t: self._output(runner, natives, t, as_buffers)
                    )
                    for name, binding in plan.outputs.items()
                }
        return self._trace(key, flat, input_types, as_buffers)

    # Feeds whose names, dtypes and shapes match a signature validated before pass validation
    # again for sure: `_seen` maps that signature (`_quick_signature`) straight to the plan's
    # runner, skipping the checks, and a feed that differs in any of them takes the full path.
    # `_forget` drops the entries of a plan it drops, so an entry's runner is always current.
    def _run_seen(
        self, seen: _Seen, feeds: dict[str, Any], as_buffers: bool
    ) -> dict[str, Any] | None:
        """Run feeds of an already validated signature; None when a guard fails."""
        flat = {}
        for name, elem in seen.converted:
            value = feeds[name]
            if type(value) is Buffer:
                flat[name] = self._stored_buffer(value, elem)
                continue
            if elem is not None:
                stored = types.to_storage(value, elem)
            elif value.flags.c_contiguous:
                stored = value
            else:  # a strided vector stays strided through `reshape`
                stored = np.ascontiguousarray(value)
            flat[name] = stored.reshape(-1)
        runner = seen.runner
        try:
            if as_buffers and not runner.backend.is_host:
                natives = runner.run(flat)
                outputs = [self._output(runner, natives, t, True) for t in seen.tensors]
            else:
                outputs = runner.run_outputs(flat, seen.tensors)
                if as_buffers:  # host memory: the Buffers wrap the arrays
                    outputs = [self._wrap(array, True) for array in outputs]
        except GuardFailed:
            self._forget(seen.key)
            return None
        return dict(zip(seen.names, outputs, strict=True))

    def _stored_buffer(self, buffer: Buffer, elem: int | None) -> Any:
        """What a run takes for a Buffer feed: on host backends its memory as a NumPy view,
        on devices the Buffer itself; where the stored form differs from the Buffer's
        (`elem` not None), that form made on the host."""
        if elem is not None:
            return types.to_storage(buffer.to_numpy(), elem).reshape(-1)
        return buffer.native() if self.executor.backend.is_host else buffer

    def _remember(
        self, quick: Any, key: Any, runner: PlanRunner, input_types: dict[str, Any]
    ) -> None:
        names, tensors = [], []
        for name, binding in runner.plan.outputs.items():
            if "tensor" not in binding:
                return  # sequences and optionals take the general path
            names.append(name)
            tensors.append(binding["tensor"])
        converted = []
        for name, spec in input_types.items():
            if spec is None or spec[0] == "sequence":
                return
            elem = spec[0]
            stored = types.storage_dtype(elem).numpy
            plain = not types.is_byte_coded(elem) and stored == types.numpy_dtype(elem)
            converted.append((name, None if plain else elem))
        if len(self._seen) >= MAX_PLANS * 4:
            self._seen.clear()
        self._seen[quick] = _Seen(key, runner, tuple(converted), tuple(names), tuple(tensors))

    def _forget(self, key: Any) -> None:
        self._plans.pop(key, None)
        self._runners.pop(key, None)
        self._seen = {quick: seen for quick, seen in self._seen.items() if seen.key != key}

    def _trace(
        self, key: Any, flat: dict[str, Any], input_types: dict[str, Any], as_buffers: bool
    ) -> dict[str, Any]:
        # Planning reads the feeds' values on the host: a device feed is copied there once,
        # for this first run of its signature.
        flat = {name: value.to_numpy().reshape(-1) if isinstance(value, Buffer) else value
                for name, value in flat.items()}  # fmt: skip
        planner = Planner(self.compiled.opsets, self.executor)
        plan = planner.plan_graph(self.compiled.graph, input_types, flat)
        plan_arena(plan)
        if len(self._plans) >= MAX_PLANS:
            self._forget(next(iter(self._plans)))
        self._plans[key] = plan

        def read(tensor: int) -> Any:
            spec = plan.tensors[tensor]
            stored = planner.buffers[tensor].to_numpy().reshape(-1)[: spec.size].copy()
            return self._wrap(types.from_storage(stored, spec.elem).reshape(spec.shape),
                              as_buffers)  # fmt: skip

        return {name: self._collect(binding, read) for name, binding in plan.outputs.items()}

    def _output(self, runner: PlanRunner, natives: dict[int, Any], tensor: int,
                as_buffers: bool) -> Any:  # fmt: skip
        """Output `tensor` of a run as users get it: on devices a Buffer stays there."""
        if as_buffers:
            buffer = runner.output_buffer(natives, tensor)
            if buffer is not None:
                return buffer
        return self._wrap(runner.output_array(natives, tensor), as_buffers)

    def _wrap(self, array: np.ndarray, as_buffers: bool) -> Any:
        if as_buffers and array.dtype.kind not in "OV":
            return self.executor.from_numpy(np.ascontiguousarray(array))
        return array

    def _collect(self, binding: dict[str, Any], read: Any) -> Any:
        if "tensor" in binding:
            return read(binding["tensor"])
        if "sequence" in binding:
            return [self._collect(item, read) for item in binding["sequence"]]
        if "optional" in binding:
            return self._collect(binding["optional"], read)
        return None

    # ------------------------------------------------------------ refining
    def refine(self, quality: float | None = None, fragments: int | None = None) -> WeightQuality:
        """Decode more of the HoloTensor weights and write them into the model in place;
        what the weights reach now (the object `quality` returns).

        Each tensor takes the fragments it has not read yet (at `load` or an earlier
        `refine`) until it reaches `quality`, or has its first `fragments`; every fragment,
        bit for bit the compiled weights, by default. A target reached already changes
        nothing: refining never lowers the quality. Decoding goes on while the model runs
        (from other threads); the weights then change all at once, between two runs, on
        every backend (device copies of the weights included). Raises `RefineError` for a
        model without HoloTensor weights, `ArtifactError` for a bad target or a fragment
        that fails its checksum (the weights are then left as they were).
        """
        from hologram.artifact.model import check_targets

        reload = self._reload
        if reload is None:
            raise RefineError(
                f"{self.source or 'the model'}: its weights are not HoloTensor fragments, so "
                "there is nothing to refine (compile it with holotensor='bitplane')"
            )
        check_targets(quality, fragments)
        with self._refining:
            with reload.writing():
                self._load_file()
            held = self.compiled.holotensor
            reload.weights = held.arrays
            changed = held.fetch(quality, fragments)
            prepared = reload.prepare(changed)
            with reload.writing():
                self._copies = self._weight_copies(held.arrays)
                try:
                    reload.commit(prepared)
                finally:
                    self._copies = {}
                # A plan made at run time may hold constants folded from the old weights.
                made = {id(plan) for plan in self.compiled.plans}
                for key in [k for k, plan in self._plans.items() if id(plan) not in made]:
                    self._forget(key)
                held.settle(changed)
            return held.reached

    def _weight_copies(
        self, arrays: dict[str, np.ndarray]
    ) -> dict[str, list[tuple[Buffer, np.ndarray]]]:
        """The plans' constant buffers that hold a copy of a HoloTensor weight (every one on
        a device; on the host, those not sharing the weight's memory), by weight name."""
        # A plan constant made from a weight views it whole: they start at the same address.
        names = {_address(array): name for name, array in arrays.items()}
        copies: dict[str, list[tuple[Buffer, np.ndarray]]] = {}
        for runner in self._runners.values():
            plan = runner.plan
            for tensor, buffer in runner.constant_buffers.items():
                array = plan.constants[plan.tensors[tensor].const]
                name = names.get(_address(array))
                if name is None:
                    continue
                if runner.backend.is_host and np.may_share_memory(buffer.to_numpy(), array):
                    continue
                copies.setdefault(name, []).append((buffer, array))
        return copies

    def _write_weight(self, name: str, values: np.ndarray) -> None:
        """The reload controller's `apply`: the weight in place, then the copies of it."""
        array = self.compiled.holotensor.arrays[name]
        np.copyto(array, values.reshape(array.shape))
        for buffer, constant in self._copies.get(name, ()):
            buffer.copy_from(constant)

    # ------------------------------------------------------------ feeds
    def _validate(self, feeds: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Check the feeds against the inputs; the stored arrays (Buffers for device feeds)
        by flat key, and the types."""
        if not isinstance(feeds, dict):
            raise FeedError(
                f"feeds must be a dict of input name -> array, got {type(feeds).__name__}"
            )
        names = [v.name for v in self._graph_inputs]
        extra = sorted(set(feeds) - set(names))
        if extra:
            raise FeedError(f"unknown input(s) {extra}; the model's inputs are {names}")
        flat: dict[str, Any] = {}
        input_types: dict[str, Any] = {}
        symbols: dict[str, tuple[int, str]] = {}
        for info in self._graph_inputs:
            kind = info.type.kind
            if info.name not in feeds:
                if kind == "optional":
                    input_types[info.name] = None
                    continue
                raise FeedError(f"input {info.name!r} is missing ({info.type.describe()})")
            value = feeds[info.name]
            if kind == "optional" and value is None:
                input_types[info.name] = None
                continue
            inner = info.type.inner if kind == "optional" and info.type.inner else info.type
            if inner.kind == "sequence":
                if not isinstance(value, (list, tuple)):
                    raise FeedError(f"input {info.name!r} is a sequence: feed a list of arrays")
                item_type = inner.inner or inner
                items = []
                for k, item in enumerate(value):
                    key = flat_key(info.name, k)
                    # The tensors of a sequence may differ in shape: each item binds the
                    # symbolic dimensions of the element type on its own.
                    array = self._check_tensor(f"{info.name}[{k}]", item, item_type, {})
                    flat[key] = self._stored(array, item_type.elem)
                    items.append((item_type.elem, tuple(array.shape)))
                input_types[info.name] = ("sequence", item_type.elem, items)
            else:
                array = self._check_tensor(info.name, value, inner, symbols)
                flat[info.name] = self._stored(array, inner.elem)
                input_types[info.name] = (inner.elem, tuple(array.shape))
        return flat, input_types

    def _stored(self, array: np.ndarray | Buffer, elem: int) -> Any:
        """A checked feed as a run takes it: its stored form, flat."""
        if isinstance(array, Buffer):
            plain = not types.is_byte_coded(elem) and array.dtype is types.storage_dtype(elem)
            return self._stored_buffer(array, None if plain else elem)
        return types.to_storage(array, elem).reshape(-1)

    def _check_tensor(
        self, name: str, value: Any, value_type: Any, symbols: dict[str, tuple[int, str]]
    ) -> np.ndarray | Buffer:
        elem = value_type.elem
        array = self._tensor_feed(name, value, types.numpy_dtype(elem) if elem else None)
        dtype = array.dtype.numpy if isinstance(array, Buffer) else array.dtype
        if elem:
            expected = types.numpy_dtype(elem)
            if dtype != expected:
                raise FeedError(f"input {name!r} must be {expected}, got {dtype}")
        shape = value_type.shape
        got_shape = tuple(array.shape)
        if shape is not None:
            if len(got_shape) != len(shape):
                raise FeedError(f"input {name!r} must have rank {len(shape)} "
                                f"({value_type.describe()}), got shape {got_shape}")  # fmt: skip
            for axis, (want, got) in enumerate(zip(shape, got_shape, strict=True)):
                if isinstance(want, int) and want != got:
                    raise FeedError(f"input {name!r}: dimension {axis} must be {want}, got "
                                    f"{got} (shape {got_shape})")  # fmt: skip
                if isinstance(want, str):
                    seen = symbols.setdefault(want, (got, name))
                    if seen[0] != got:
                        raise FeedError(
                            f"input {name!r}: dimension {axis} ({want!r}) is {got}, but "
                            f"{want!r} is {seen[0]} in input {seen[1]!r}"
                        )
        return array

    def _tensor_feed(self, name: str, value: Any, expected: np.dtype | None) -> np.ndarray | Buffer:
        """A tensor feed as validation sees it: a Buffer of the model's backend as it is, a
        device array of another library viewed as such a Buffer, else a NumPy array."""
        backend = self.executor.backend
        if isinstance(value, Buffer):
            if value.backend is not backend:
                raise FeedError(
                    f"input {name!r} is a Buffer of backend {value.backend.name!r}, but the "
                    f"model runs on {backend.name!r}: feed a Buffer of its executor's backend "
                    "or a NumPy array"
                )
            if value.is_freed:
                raise FeedError(f"input {name!r} is a Buffer that was freed")
            return value
        if isinstance(value, np.ndarray):
            return value
        if hasattr(value, "__cuda_array_interface__"):
            borrowed = backend.borrow(value)
            if borrowed is None:
                raise FeedError(
                    f"input {name!r} is in CUDA device memory ({type(value).__name__}), but the "
                    f"model runs on {backend.name!r}: feed a NumPy array"
                )
            handle, shape, dtype = borrowed
            try:
                isa_dtype = DType.of(dtype)
            except HologramError:
                want = f"must be {expected}" if expected is not None else "has a dtype that"
                raise FeedError(f"input {name!r} {want}, got {dtype}") from None
            allocation = Allocation.borrowed(handle, backend.size_of(handle))
            return Buffer(self.executor, allocation, shape, isa_dtype)
        if hasattr(value, "to_numpy"):
            value = value.to_numpy()
        return np.asarray(value)


@dataclass(frozen=True)
class _Seen:
    """How to run feeds of a signature validated before: the plan's key and its runner, each
    input's name and element type where its storage differs from the array (None where the
    array is stored as it is), and the outputs' names and tensors."""

    key: Any
    runner: PlanRunner
    converted: tuple[tuple[str, int | None], ...]
    names: tuple[str, ...]
    tensors: tuple[int, ...]


def _address(array: np.ndarray) -> int:
    """Where an array's data starts."""
    return array.__array_interface__["data"][0]


def _quick_signature(feeds: Any, backend: Any) -> tuple | None:
    """(name, dtype, shape) of each feed, in order, when every feed is a NumPy array or a
    live Buffer of `backend` (one signature for both: a run takes either)."""
    if type(feeds) is not dict:
        return None
    signature = []
    for name, value in feeds.items():
        kind = type(value)
        if kind is np.ndarray:
            signature.append((name, value.dtype, value.shape))
        elif kind is Buffer and value.backend is backend and not value.is_freed:
            signature.append((name, value.dtype.numpy, value.shape))
        else:
            return None
    return tuple(signature)


def _signature(flat: dict[str, np.ndarray], input_types: dict[str, Any]) -> Any:
    entries = []
    for name, spec in input_types.items():
        if spec is None:
            continue
        if spec[0] == "sequence":
            for k, (elem, shape) in enumerate(spec[2]):
                entries.append((flat_key(name, k), elem, tuple(shape)))
        else:
            entries.append((name, spec[0], tuple(spec[1])))
    return tuple(sorted(entries))


def load(
    path: str | os.PathLike[str] | bytes,
    backend: str | Executor = "auto",
    *,
    quality: float | None = None,
    fragments: int | None = None,
) -> Model:
    """Map a `.holo` model file (or its bytes) and bind it to `backend`.

    For a file compiled with `holotensor=`, each HoloTensor weight is decoded from the fewest
    fragments that reach `quality` (1 - relative Frobenius error, calibrated at encode time),
    or from its first `fragments` fragments; by default from all of them, exactly.
    `Model.quality` reports what was reached.

    Loading reads the file's header, section table and manifest (checksum, schema, version,
    and the inputs and outputs: the manifest's head), without mapping the file; the first run
    maps it, verifies the checksums of the kernels and weights and decodes the rest before it
    uses any of it (a corrupt section raises `ArtifactError` naming it then).
    `hologram.artifact.read_model` verifies and decodes everything at once.
    """
    from hologram.artifact.model import open_model

    opened = open_model(path, quality=quality, fragments=fragments)
    source = "<bytes>" if isinstance(path, (bytes, bytearray)) else os.fspath(path)
    return Model(opened, backend, source)
