"""Streaming: inputs of any size through a fixed pool, computed on the way, in O(1) memory.

    from hologram.stream import Stream, ComputePipeline, ReLU, ScalarMul, FileSink

    context = (
        ComputePipeline().add_op(ReLU()).add_op(ScalarMul(0.5))
        .execute("big.f32", dtype="float32", sink=FileSink("out.f32"),
                 heads=[AggregateDomainHead()])
    )

The path is source (`sources.py`) → period and gauges (`period.py`, `gauge.py`, `chunker.py`)
→ ops in the pool (`ops.py`, `engine.py`, `pipeline.py`) → blocks (`storage.py`) → domain heads
(`heads.py`) and sinks (`sinks.py`). `hologram.stream.dask` runs a pipeline over dask arrays.
"""

from hologram.stream.chunker import ChunkedStream, Stream
from hologram.stream.errors import SinkError, SourceError, StreamError
from hologram.stream.gauge import DEFAULT_LEVELS, Gauge, Schedule, primorial
from hologram.stream.heads import (
    AggregateDomainHead,
    DomainHead,
    FilterDomainHead,
    Modality,
    NormalizeDomainHead,
    RawDomainHead,
)
from hologram.stream.ops import (
    CHUNK,
    COUNT,
    INDEX,
    LEVEL,
    OFFSET,
    OUT,
    PERIOD,
    AddConst,
    Cast,
    Clip,
    KernelOp,
    MulConst,
    OpsFunction,
    ProgramOp,
    ReLU,
    ScalarMul,
    StreamOp,
    parse_op,
)
from hologram.stream.pipeline import ComputePipeline
from hologram.stream.sinks import ArraySink, ArrowSink, FileSink, NullSink, Sink
from hologram.stream.sources import Source, open_source
from hologram.stream.storage import (
    CpuShared,
    DevicePool,
    EmbeddedBlock,
    EmbeddedContext,
    MemoryStorage,
    UniversalMemoryPool,
)

__all__ = [
    "CHUNK",
    "COUNT",
    "DEFAULT_LEVELS",
    "INDEX",
    "LEVEL",
    "OFFSET",
    "OUT",
    "PERIOD",
    "AddConst",
    "AggregateDomainHead",
    "ArraySink",
    "ArrowSink",
    "Cast",
    "ChunkedStream",
    "Clip",
    "ComputePipeline",
    "CpuShared",
    "DevicePool",
    "DomainHead",
    "EmbeddedBlock",
    "EmbeddedContext",
    "FileSink",
    "FilterDomainHead",
    "Gauge",
    "KernelOp",
    "MemoryStorage",
    "Modality",
    "MulConst",
    "NullSink",
    "NormalizeDomainHead",
    "OpsFunction",
    "ProgramOp",
    "RawDomainHead",
    "ReLU",
    "ScalarMul",
    "Schedule",
    "Sink",
    "SinkError",
    "Source",
    "SourceError",
    "Stream",
    "StreamError",
    "StreamOp",
    "UniversalMemoryPool",
    "open_source",
    "parse_op",
    "primorial",
]
