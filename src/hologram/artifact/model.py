"""Compiled models in `.holo` files.

    write_model(compiled, "model.holo")          # what `hologram.compile(..., output=)` calls
    data = model_to_bytes(compiled)
    compiled = read_model("model.holo")          # or read_model(data)

A model file is a container (`container.py`) with three kinds of sections:

- `manifest` (kind `model.manifest`): UTF-8 JSON: versions, opsets, inputs and outputs, the
  metadata with the compile report, the graph, the plans and the weight list;
- `isa/<n>` (kind `kernel.isa`): one ISA binary program per distinct kernel of the plans;
- `weights` (kind `weights.safetensors`): every tensor (initializers, attribute tensors, plan
  constants, guard values) in one safetensors-compatible payload, each 64-byte aligned;
- `holotensor` (kind `weights.holotensor`, format 2.0 only): with `holotensor="bitplane"`,
  the float tensors as HoloTensor fragments (`model_holo.py`), decoded when the model loads
  to the quality asked for; the other tensors stay in `weights`.

Nothing in the file is executable but the ISA programs, and each is verified when it is
decoded; there is no pickle. `read_model` returns weights as read-only NumPy views of the
mapped file: loading copies no tensor data. Every problem raises `ArtifactError` naming the
file and the section (and JSON path) at fault. The layout is specified in `SPEC.md`,
*Compiled models*.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hologram.artifact.container import Container, ContainerWriter
from hologram.artifact.json_head import NoHead, json_head
from hologram.artifact.model_check import check_plan
from hologram.artifact.model_holo import (
    HOLOTENSOR_SECTION,
    KIND_HOLOTENSOR,
    HoloWeights,
    decode_holotensor,
)
from hologram.artifact.model_json import (
    WeightIndex,
    WeightTable,
    check,
    count,
    field,
    graph_from_json,
    graph_to_json,
    value_infos,
)
from hologram.artifact.model_plan import plan_from_json, plan_to_json
from hologram.artifact.weights import WeightsBuilder, read_weights
from hologram.compiler import types
from hologram.compiler.compile import CompiledModel
from hologram.compiler.graph import ValueInfo
from hologram.errors import ArtifactError, HologramError
from hologram.isa.program import Program

MODEL_SCHEMA = "hologram.model"
MODEL_VERSION = (1, 0)
"""(major, minor) of the manifest written; readers accept a major they know and any minor."""
HOLOTENSOR_VERSION = (2, 0)
"""The version of models with a `holotensor` section: their weight list names tensors that a
1.x reader cannot find, so the major changes and such a reader asks for a newer hologram."""
READABLE_MAJORS = (1, 2)
MANIFEST_SECTION = "manifest"
WEIGHTS_SECTION = "weights"
KIND_MANIFEST = "model.manifest"
KIND_WEIGHTS = "weights.safetensors"
KIND_ISA = "kernel.isa"
KNOWN_KINDS = (KIND_MANIFEST, KIND_WEIGHTS, KIND_ISA, KIND_HOLOTENSOR)
MANIFEST_HEAD: dict[str, Any] = {
    "schema": None,
    "version": None,
    "graph": {"inputs": None, "outputs": None},
}
"""What opening a model decodes of its manifest (`json_head`): the writer puts these first."""
MALFORMED = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)
"""What decoding a hostile manifest might still raise past its explicit checks."""


# ---------------------------------------------------------------- writing
def build_model(
    compiled: CompiledModel, holotensor: str | None = None, fragments: int | None = None
) -> ContainerWriter:
    """A container writer holding `compiled` (raises ArtifactError for what it cannot store).

    `holotensor="bitplane"` stores the float tensors as HoloTensor fragments (`fragments` of
    them each; the encoding's default when None) in a `holotensor` section."""
    from hologram import __version__
    from hologram.isa.encoding import to_bytes
    from hologram.isa.program import ISA_VERSION

    builder = WeightsBuilder()
    held = HoloWeights(holotensor, fragments) if holotensor is not None else None
    weights = WeightIndex(builder, held.divert if held is not None else None)
    graph = graph_to_json(compiled.graph, weights)
    kernels: list[dict[str, Any]] = []
    programs: list[bytes] = []
    index_of: dict[bytes, int] = {}
    plans = []
    for number, plan in enumerate(compiled.plans):
        indices = []
        for program in plan.programs:
            data = to_bytes(program)
            if data not in index_of:
                index_of[data] = len(programs)
                kernels.append({"section": f"isa/{len(programs)}", "name": program.name})
                programs.append(data)
            indices.append(index_of[data])
        plans.append(plan_to_json(plan, weights, indices, f"plan{number}"))
    # Opening a file decodes the manifest up to the graph's outputs (`MANIFEST_HEAD`): what
    # it needs comes first, and the metadata (the compile report) after the graph.
    manifest = {
        "schema": MODEL_SCHEMA,
        "version": list(MODEL_VERSION if held is None else HOLOTENSOR_VERSION),
        "producer": {"name": "hologram", "version": __version__},
        "isa_version": list(ISA_VERSION),
        "opsets": dict(compiled.opsets),
        "graph": graph,
        "inputs": [_describe(v) for v in compiled.graph.inputs],
        "outputs": [_describe(v) for v in compiled.graph.outputs],
        "metadata": compiled.metadata,
        "kernels": kernels,
        "plans": plans,
        "weights": {
            "section": WEIGHTS_SECTION,
            "bytes": builder.nbytes,
            "tensors": weights.entries,
        },
    }
    if held is not None:
        manifest["holotensor"] = held.describe()
    writer = ContainerWriter()
    writer.add(MANIFEST_SECTION, KIND_MANIFEST, _dumps(manifest))
    for kernel, data in zip(kernels, programs, strict=True):
        writer.add(kernel["section"], KIND_ISA, data)
    writer.add(WEIGHTS_SECTION, KIND_WEIGHTS, builder.to_bytes())
    if held is not None:
        writer.add(HOLOTENSOR_SECTION, KIND_HOLOTENSOR, held.to_bytes())
    return writer


def _describe(value: ValueInfo) -> dict[str, Any]:
    """An input or output as tools read it without decoding the graph."""
    value_type = (
        value.type.inner if value.type.kind != "tensor" and value.type.inner else value.type
    )
    try:
        dtype = types.numpy_dtype(value_type.elem).name if value_type.elem else None
    except HologramError:
        dtype = None
    return {
        "name": value.name,
        "kind": value.type.kind,
        "dtype": dtype,
        "onnx_type": types.elem_name(value_type.elem) if value_type.elem else None,
        "shape": None if value_type.shape is None else list(value_type.shape),
    }


def _dumps(manifest: dict[str, Any]) -> bytes:
    def plain(value: Any) -> Any:
        if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
            return value.item()  # a NumPy scalar in the metadata
        raise TypeError(f"{type(value).__name__} {value!r:.60} is not JSON")

    try:
        text = json.dumps(manifest, separators=(",", ":"), allow_nan=False, default=plain)
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"the manifest cannot be written as JSON: {exc}") from None
    return text.encode("utf-8")


def model_to_bytes(
    compiled: CompiledModel, holotensor: str | None = None, fragments: int | None = None
) -> bytes:
    """The `.holo` file of `compiled`, as bytes (`holotensor`: see `build_model`)."""
    return build_model(compiled, holotensor, fragments).to_bytes()


def write_model(
    compiled: CompiledModel,
    path: str | os.PathLike[str],
    holotensor: str | None = None,
    fragments: int | None = None,
) -> Path:
    """Write `compiled` to `path` (atomically: readers see the old file or the new one);
    `holotensor`: see `build_model`."""
    return build_model(compiled, holotensor, fragments).write(path)


# ---------------------------------------------------------------- reading
def read_model(
    source: str | os.PathLike[str] | bytes | bytearray | memoryview,
    *,
    quality: float | None = None,
    fragments: int | None = None,
) -> CompiledModel:
    """The compiled model in a `.holo` file (mapped, not read) or in its bytes.

    Weights are read-only NumPy views of the mapping (or of the bytes given), which stays
    alive as long as any of them does; HoloTensor weights are decoded to `quality` (or from
    their first `fragments` fragments; all, exactly, by default), and `weight_quality` of the
    result says what was reached. Raises ArtifactError for anything malformed.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        container = Container(source)
    else:
        container = Container.open(source)
    with container:
        return load_model(container, quality=quality, fragments=fragments)


def load_model(
    container: Container,
    manifest: dict[str, Any] | None = None,
    *,
    quality: float | None = None,
    fragments: int | None = None,
) -> CompiledModel:
    """The compiled model held by an open container (see `read_model`); `manifest` is its
    manifest when already read (`read_manifest`)."""
    return _decoding(container, lambda: _load(container, manifest, quality, fragments))


def _decoding(container: Container, decode: Callable[[], Any]) -> Any:
    """`decode()`, with whatever a hostile manifest makes it raise as an ArtifactError."""
    try:
        return decode()
    except HologramError:
        raise
    except RecursionError:
        raise ArtifactError(
            f"{container.source}: section {MANIFEST_SECTION!r}: nested too deeply"
        ) from None
    except MALFORMED as exc:
        raise ArtifactError(
            f"{container.source}: section {MANIFEST_SECTION!r}: malformed: "
            f"{type(exc).__name__}: {exc}"
        ) from None


class ModelFile:
    """A `.holo` model opened for running, decoded in two steps so that opening is quick.

    Opening (the constructor, `open_model`) reads the file, without mapping it: it checks the
    header, the section table and the manifest's checksum, and decodes the manifest's head
    (`MANIFEST_HEAD`: its schema and version, checked, and the graph's inputs and outputs):
    enough to describe the model and validate feeds. `load()` does the rest on first call,
    before any of the model's data is used: it maps the file, decodes the whole manifest
    (which must agree with its head), verifies the checksums of the kernel and weights
    sections, and decodes and checks the graph, the programs and the plans, raising
    `ArtifactError` (naming the section) for anything wrong, as `read_model` does at once.
    `hologram.load` returns a model whose first run calls it.
    """

    def __init__(
        self, container: Container, quality: float | None = None, fragments: int | None = None
    ) -> None:
        self.source = container.source
        self.quality = quality
        self.fragments = fragments
        """What HoloTensor weights are decoded to (see `read_model`)."""
        self._container: Container | None = container
        self._compiled: CompiledModel | None = None
        self.head = _decoding(container, lambda: read_manifest_head(container))
        """The manifest's head (`MANIFEST_HEAD`), or all of it for a file written otherwise."""
        self.progressive = bool(container.of_kind(KIND_HOLOTENSOR))
        """Whether the weights are HoloTensor fragments (`load` checks the manifest agrees)."""
        where = f"{container.source}: {MANIFEST_SECTION}.graph"

        def describe() -> tuple[list[ValueInfo], list[ValueInfo]]:
            graph = field(self.head, "graph", dict, f"{container.source}: {MANIFEST_SECTION}")
            inputs = value_infos(field(graph, "inputs", list, where), f"{where}.inputs")
            return inputs, value_infos(field(graph, "outputs", list, where), f"{where}.outputs")

        self.inputs, self.outputs = _decoding(container, describe)

    def load(self) -> CompiledModel:
        """The whole model, verified and decoded on the first call (see the class)."""
        if self._compiled is None:
            container = self._container
            if container is None:
                raise ArtifactError(f"{self.source}: the file was closed")
            # A failure leaves the file open, so that every later call raises it again.
            manifest = _decoding(container, lambda: read_manifest(container))
            self._check_head(manifest)
            self._compiled = load_model(
                container, manifest, quality=self.quality, fragments=self.fragments
            )
            container.close()
            self._container = None
        return self._compiled

    def _check_head(self, manifest: dict[str, Any]) -> None:
        """Refuse a manifest whose head (read at opening) says otherwise than the whole: only
        a key written twice can make them differ, as the head keeps its first value."""
        graph = manifest.get("graph")
        for key, value in self.head.items():
            if key == "graph":
                inner = graph if isinstance(graph, dict) else {}
                agrees = all(inner.get(k) == v for k, v in value.items())
            else:
                agrees = manifest.get(key) == value
            if not agrees:
                raise ArtifactError(
                    f"{self.source}: section {MANIFEST_SECTION!r}: {key!r} differs from the "
                    "value read at opening (a key written twice)"
                )

    def close(self) -> None:
        """Release the file (arrays already decoded keep the mapping alive)."""
        if self._container is not None:
            self._container.close()
            self._container = None


def open_model(
    source: str | os.PathLike[str] | bytes | bytearray | memoryview,
    *,
    quality: float | None = None,
    fragments: int | None = None,
) -> ModelFile:
    """A `.holo` model file (or its bytes) opened for running: see `ModelFile`; HoloTensor
    weights are decoded to `quality` or `fragments` (see `read_model`)."""
    check_targets(quality, fragments)
    if isinstance(source, (bytes, bytearray, memoryview)):
        container = Container(source)
    else:
        container = Container.open(source)
    try:
        return ModelFile(container, quality, fragments)
    except BaseException:
        container.close()
        raise


def check_targets(quality: float | None, fragments: int | None) -> None:
    """Raise ArtifactError unless `quality` is in (0, 1] and `fragments` at least 1."""
    if quality is not None and fragments is not None:
        raise ArtifactError("give quality or fragments, not both")
    if quality is not None and not (isinstance(quality, (int, float)) and 0 < quality <= 1):
        raise ArtifactError(f"quality must be in (0, 1], got {quality!r}")
    if fragments is not None and (isinstance(fragments, bool) or not isinstance(fragments, int)
                                  or fragments < 1):  # fmt: skip
        raise ArtifactError(f"fragments must be an integer of at least 1, got {fragments!r}")


def read_manifest(container: Container) -> dict[str, Any]:
    """The manifest of a model container, its schema and version checked."""
    try:
        manifest = json.loads(_manifest_payload(container))
    except (ValueError, RecursionError) as exc:
        where = f"{container.source}: section {MANIFEST_SECTION!r}"
        raise ArtifactError(f"{where}: not valid JSON ({exc})") from None
    return _check_manifest(container, manifest)


def read_manifest_head(container: Container) -> dict[str, Any]:
    """The head of a model container's manifest (`MANIFEST_HEAD`), its checksum, schema and
    version checked: the whole manifest, as `read_manifest`, where the head cannot be read
    alone (the graph before the schema, say, or anything malformed, which that then names)."""
    try:
        head = json_head(_manifest_payload(container).decode("utf-8"), MANIFEST_HEAD)
    except (NoHead, UnicodeDecodeError):
        return read_manifest(container)
    return _check_manifest(container, head)


def _manifest_payload(container: Container) -> bytes:
    """The manifest section's payload, its kind and checksum checked (read, not mapped)."""
    where = f"{container.source}: section {MANIFEST_SECTION!r}"
    if MANIFEST_SECTION not in container:
        raise ArtifactError(f"{container.source}: not a compiled model (no {MANIFEST_SECTION!r})")
    kind = container.info(MANIFEST_SECTION).kind
    if kind != KIND_MANIFEST:
        hint = " (a kernel bundle: use read_bundle)" if kind == "bundle.manifest" else ""
        raise ArtifactError(f"{where}: kind is {kind!r}, not {KIND_MANIFEST!r}{hint}")
    return container.read_copy(MANIFEST_SECTION)


def _check_manifest(container: Container, manifest: Any) -> dict[str, Any]:
    """`manifest` (all of it or its head), whose schema and version must be readable."""
    where = f"{container.source}: section {MANIFEST_SECTION!r}"
    if not isinstance(manifest, dict) or manifest.get("schema") != MODEL_SCHEMA:
        raise ArtifactError(f"{where}: schema is not {MODEL_SCHEMA!r}")
    version = field(manifest, "version", list, where)
    if len(version) != 2 or not all(isinstance(v, int) for v in version):
        raise ArtifactError(f"{where}: version {version!r:.40} is not [major, minor]")
    if version[0] not in READABLE_MAJORS:
        newer = version[0] > READABLE_MAJORS[-1]
        known = ", ".join(f"{major}.x" for major in READABLE_MAJORS)
        raise ArtifactError(
            f"{where}: model format {version[0]}.{version[1]} is "
            f"{'newer than' if newer else 'not readable by'} this reader "
            f"({known}, hologram {_hologram_version()})"
            + ("; upgrade hologram to read it" if newer else "")
        )
    return manifest


def _hologram_version() -> str:
    from hologram import __version__

    return __version__


def _load(
    container: Container,
    manifest: dict[str, Any] | None = None,
    quality: float | None = None,
    fragments: int | None = None,
) -> CompiledModel:
    source = container.source
    if manifest is None:
        manifest = read_manifest(container)
    # JSON paths start at the section's name: `model.holo: manifest.plans[0].steps[2]: ...`.
    where = f"{source}: {MANIFEST_SECTION}"
    programs = read_kernels(container, field(manifest, "kernels", list, where), where)
    weights_doc = field(manifest, "weights", dict, where)
    section = field(weights_doc, "section", str, f"{where}.weights")
    payload = _section(container, section, KIND_WEIGHTS, f"{where}.weights")
    stored = read_weights(payload, f"{source}: section {section!r}")
    progressive = None
    if "holotensor" in manifest:
        doc = field(manifest, "holotensor", dict, where)
        progressive = decode_holotensor(container, doc, quality, fragments, f"{where}.holotensor")
    elif container.of_kind(KIND_HOLOTENSOR):
        name = container.of_kind(KIND_HOLOTENSOR)[0].name
        raise ArtifactError(f"{source}: section {name!r}: the manifest names no HoloTensor weights")
    table = WeightTable(
        field(weights_doc, "tensors", list, f"{where}.weights"),
        stored,
        f"{where}.weights.tensors",
        progressive.arrays if progressive is not None else None,
    )
    graph = graph_from_json(field(manifest, "graph", dict, where), table, f"{where}.graph")
    plans = []
    for index, doc in enumerate(field(manifest, "plans", list, where)):
        plan = plan_from_json(doc, table, programs, f"{where}.plans[{index}]")
        check_plan(plan, f"{where}.plans[{index}]")
        plans.append(plan)
    opsets = {
        check(domain, str, f"{where}.opsets"): count(version, f"{where}.opsets.{domain}")
        for domain, version in field(manifest, "opsets", dict, where).items()
    }
    # Checked last, so that a section the manifest names says what kind it should have.
    for info in container.sections:
        if info.kind not in KNOWN_KINDS:
            raise ArtifactError(
                f"{source}: section {info.name!r}: unknown kind {info.kind!r} "
                f"(known: {', '.join(KNOWN_KINDS)}); a newer hologram may read it"
            )
    metadata = field(manifest, "metadata", dict, where)
    reached = progressive.reached if progressive is not None else None
    return CompiledModel(
        graph, opsets, plans, metadata, weight_quality=reached, holotensor=progressive
    )


def read_kernels(container: Container, entries: list[Any], where: str) -> list[Program]:
    """The ISA programs the manifest's `kernels` list names, decoded and verified."""
    from hologram.isa.encoding import from_bytes

    programs = []
    for index, entry in enumerate(entries):
        here = f"{where}.kernels[{index}]"
        section = field(entry, "section", str, here)
        data = _section(container, section, KIND_ISA, here)
        try:
            programs.append(from_bytes(data))
        except HologramError as exc:
            raise ArtifactError(
                f"{container.source}: section {section!r}: bad ISA program: {exc}"
            ) from None
        finally:
            data.release()
    return programs


def _section(container: Container, name: str, kind: str, where: str) -> memoryview:
    if name not in container:
        raise ArtifactError(f"{where}: no section {name!r} in the file")
    found = container.info(name).kind
    if found != kind:
        raise ArtifactError(
            f"{container.source}: section {name!r}: kind is {found!r}, not {kind!r}"
        )
    return container.read(name)
