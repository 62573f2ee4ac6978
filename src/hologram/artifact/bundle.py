"""Kernel bundles: kernels' IR and precompiled ISA programs in one `.holo` container.

    write_bundle("vector.holo", [("vector/scale", scale, [{"x": hg.float32}])])
    kernels = read_bundle("vector.holo")        # {"vector/scale": Kernel}
    kernels["vector/scale"][grid, block](x, out, 2.0, n)      # no lowering: precompiled

A bundle holds, per kernel, its JSON IR (section kind `kernel.ir`), one ISA binary program per
compiled signature (`kernel.isa`), and one JSON manifest (`bundle.manifest`) tying them
together. The layout is specified in `SPEC.md`, *Kernel bundles*.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hologram.artifact.container import Container, ContainerWriter
from hologram.errors import ArtifactError, HologramError
from hologram.isa.dtypes import DType

if TYPE_CHECKING:
    from hologram.dsl.kernel import Kernel

BUNDLE_SCHEMA = "hologram.kernel-bundle"
BUNDLE_VERSION = (1, 0)
"""(major, minor) of the manifest written; readers accept the same major."""
MANIFEST_SECTION = "manifest"
KIND_MANIFEST = "bundle.manifest"
KIND_IR = "kernel.ir"
KIND_ISA = "kernel.isa"
SPECIAL_FLOATS = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}

BundleEntry = tuple[str, "Kernel", Sequence[Mapping[str, Any]]]
"""(key, kernel, signatures): what `write_bundle` stores for one kernel."""


# ---------------------------------------------------------------- signatures
@dataclass(frozen=True)
class SignaturePlan:
    """The signatures to compile a kernel for ahead of time, and how they were chosen."""

    signatures: list[dict[str, Any]]
    how: str

    @property
    def ir_only(self) -> bool:
        """True when no signature can be chosen: the kernel ships as IR only."""
        return not self.signatures


def plan_signatures(kernel: Kernel) -> SignaturePlan:
    """The signatures `hologram kernels compile` builds for `kernel`.

    Its declared `signatures` if any; else, if every `Const` has a default, one signature
    with float32 for each generic array and scalar (empty when there is none) and the `Const`
    defaults; else none (IR only). Translates the kernel (raises `KernelError` if it fails).
    """
    if kernel.signatures:
        return SignaturePlan([normalize_signature(s) for s in kernel.signatures], "declared")
    params = kernel.params
    missing = [p["name"] for p in params if p["kind"] == "const" and "default" not in p]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        return SignaturePlan([], f"Const{plural} {', '.join(missing)} without default")
    generic = [
        p["name"] for p in params if p["kind"] in ("array", "scalar") and p.get("dtype") is None
    ]
    if generic:
        return SignaturePlan([{name: DType.F32 for name in generic}], "generic dtypes as f32")
    return SignaturePlan([{}], "fixed types")


def normalize_signature(signature: Mapping[str, Any]) -> dict[str, Any]:
    """A signature with every dtype-like value (`hg.float32`, `"f32"`, NumPy) as a DType."""
    from hologram.dsl.types import resolve_dtype

    return {
        name: value if isinstance(value, (DType, bool, int, float)) else resolve_dtype(value)
        for name, value in signature.items()
    }


def signature_text(signature: Mapping[str, Any]) -> str:
    """`x=f32, mode=0`: a signature as people read it (`-` when empty)."""
    parts = [
        f"{name}={value.value}" if isinstance(value, DType) else f"{name}={value!r}"
        for name, value in sorted(normalize_signature(signature).items())
    ]
    return ", ".join(parts) or "-"


def encode_signature(signature: Mapping[str, Any]) -> dict[str, Any]:
    """A signature as manifest JSON: dtypes as `{"dtype": "f32"}`, special floats as text."""
    from hologram.dsl.ir import encode_const

    encoded: dict[str, Any] = {}
    for name, value in sorted(normalize_signature(signature).items()):
        encoded[name] = {"dtype": value.value} if isinstance(value, DType) else encode_const(value)
    return encoded


def decode_signature(doc: Any, where: str) -> dict[str, Any]:
    """The signature a manifest entry encodes; `where` names the entry in errors."""
    if not isinstance(doc, dict):
        raise ArtifactError(f"{where}: signature is not an object")
    decoded: dict[str, Any] = {}
    for name, value in doc.items():
        if isinstance(value, dict) and set(value) == {"dtype"}:
            try:
                decoded[name] = DType(value["dtype"])
            except ValueError:
                raise ArtifactError(
                    f"{where}: {name!r}: unknown dtype {value['dtype']!r}"
                ) from None
        elif isinstance(value, str) and value in SPECIAL_FLOATS:
            decoded[name] = SPECIAL_FLOATS[value]
        elif isinstance(value, (bool, int, float)):
            decoded[name] = value
        else:
            raise ArtifactError(f"{where}: {name!r}: {value!r} is not a dtype or a number")
    return decoded


# ---------------------------------------------------------------- writing
def build_bundle(kernels: Iterable[BundleEntry]) -> ContainerWriter:
    """A container writer holding `kernels`, each lowered for each of its signatures.

    Lowering and verification errors (`KernelError`, `VerificationError`) propagate.
    """
    from hologram import __version__
    from hologram.dsl import ir
    from hologram.isa.encoding import to_bytes
    from hologram.isa.program import ISA_VERSION

    writer = ContainerWriter()
    entries = []
    seen: set[str] = set()
    for key, kernel, signatures in kernels:
        if key in seen:
            raise ArtifactError(f"kernel key {key!r} appears twice in one bundle")
        seen.add(key)
        ir_section = f"ir/{key}"
        writer.add(ir_section, KIND_IR, kernel.to_json().encode("utf-8"))
        programs = []
        for index, signature in enumerate(signatures):
            program = kernel.specialize(signature)
            section = f"isa/{key}/{index}"
            writer.add(section, KIND_ISA, to_bytes(program))
            programs.append(
                {
                    "signature": encode_signature(signature),
                    "section": section,
                    "program": program.name,
                }
            )
        entries.append({"key": key, "name": kernel.name, "ir": ir_section, "programs": programs})
    manifest = {
        "schema": BUNDLE_SCHEMA,
        "version": list(BUNDLE_VERSION),
        "hologram_version": __version__,
        "isa_version": list(ISA_VERSION),
        "ir_version": list(ir.VERSION),
        "kernels": entries,
    }
    writer.add(MANIFEST_SECTION, KIND_MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
    return writer


def write_bundle(path: str | os.PathLike[str], kernels: Iterable[BundleEntry]) -> Path:
    """Write a bundle of `(key, kernel, signatures)` to `path` (atomically); returns the path."""
    return build_bundle(kernels).write(path)


# ---------------------------------------------------------------- reading
def read_bundle(path: str | os.PathLike[str]) -> dict[str, Kernel]:
    """The kernels of the bundle at `path`, by key, each with its programs precompiled.

    Each kernel is `Kernel.from_ir(doc)` whose per-signature cache already holds the bundle's
    programs, so launching with a bundled signature does not lower again. Its `signatures`
    are the bundled ones. A malformed or corrupt bundle raises `ArtifactError`.
    """
    with Container.open(path) as container:
        return load_bundle(container)


def load_bundle(container: Container) -> dict[str, Kernel]:
    """The kernels of a bundle already opened as a container (see `read_bundle`)."""
    manifest = _read_manifest(container)
    kernels: dict[str, Kernel] = {}
    for index, entry in enumerate(manifest["kernels"]):
        where = f"{container.source}: manifest kernels[{index}]"
        key = _field(entry, "key", str, where)
        if key in kernels:
            raise ArtifactError(f"{where}: kernel key {key!r} appears twice")
        kernels[key] = _load_kernel(container, entry, f"{container.source}: kernel {key!r}")
    return kernels


def _read_manifest(container: Container) -> dict[str, Any]:
    where = f"{container.source}: manifest"
    if MANIFEST_SECTION not in container:
        raise ArtifactError(f"{container.source}: not a kernel bundle (no {MANIFEST_SECTION!r})")
    if container.info(MANIFEST_SECTION).kind != KIND_MANIFEST:
        raise ArtifactError(f"{where}: section kind is not {KIND_MANIFEST!r}")
    try:
        manifest = json.loads(bytes(container.read(MANIFEST_SECTION)))
    except (ValueError, RecursionError) as exc:
        raise ArtifactError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != BUNDLE_SCHEMA:
        raise ArtifactError(f"{where}: schema is not {BUNDLE_SCHEMA!r}")
    version = _field(manifest, "version", list, where)
    if len(version) != 2 or version[0] != BUNDLE_VERSION[0]:
        raise ArtifactError(
            f"{where}: bundle version {version} is not readable by this reader "
            f"({BUNDLE_VERSION[0]}.x)"
        )
    _field(manifest, "kernels", list, where)
    return manifest


def _load_kernel(container: Container, entry: Any, where: str) -> Kernel:
    from hologram.dsl.kernel import Kernel
    from hologram.isa.encoding import from_bytes

    name = _field(entry, "name", str, where)
    ir_text = _section_bytes(container, _field(entry, "ir", str, where), KIND_IR, where)
    try:
        kernel = Kernel.from_ir(ir_text)
    except HologramError as exc:
        raise ArtifactError(f"{where}: bad IR: {exc}") from exc
    if kernel.name != name:
        raise ArtifactError(f"{where}: the manifest names it {name!r}, its IR {kernel.name!r}")
    runtime_params = [p["name"] for p in kernel.params if p["kind"] != "const"]
    param_names = {p["name"] for p in kernel.params}
    signatures = []
    for index, program_entry in enumerate(_field(entry, "programs", list, where)):
        here = f"{where}: programs[{index}]"
        signature = decode_signature(_field(program_entry, "signature", dict, here), here)
        unknown = sorted(set(signature) - param_names)
        if unknown:
            raise ArtifactError(f"{here}: signature names unknown parameters {unknown}")
        section = _field(program_entry, "section", str, here)
        data = _section_bytes(container, section, KIND_ISA, here)
        try:
            program = from_bytes(data)
        except HologramError as exc:
            raise ArtifactError(f"{here}: bad program in section {section!r}: {exc}") from exc
        if [p.name for p in program.params] != runtime_params:
            raise ArtifactError(
                f"{here}: program parameters {[p.name for p in program.params]} do not match "
                f"the kernel's {runtime_params}"
            )
        kernel.add_program(signature, program)
        signatures.append(signature)
    kernel.signatures = signatures
    return kernel


def _section_bytes(container: Container, name: str, kind: str, where: str) -> bytes:
    if name not in container:
        raise ArtifactError(f"{where}: no section {name!r}")
    if container.info(name).kind != kind:
        raise ArtifactError(f"{where}: section {name!r} is not of kind {kind!r}")
    return bytes(container.read(name))


def _field(obj: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(obj, dict):
        raise ArtifactError(f"{where}: expected an object")
    value = obj.get(key)
    if not isinstance(value, kind):
        raise ArtifactError(f"{where}: {key!r} must be a {kind.__name__}, got {value!r}")
    return value
