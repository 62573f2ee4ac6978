"""`ComputePipeline`: stream ops applied to every chunk, in place in a fixed pool.

    pipeline = ComputePipeline().add_op(ReLU()).add_op(ScalarMul(0.5))
    context = pipeline.execute("data.f32", levels=10, dtype="float32",
                               sink=FileSink("out.f32"), heads=[AggregateDomainHead()])
    context.modalities["aggregate"].stats["sum"]

Without a sink the result is kept: `context.pool` holds one block per chunk. With a sink, each
chunk is written out as soon as it is computed, and memory stays at the pool's size whatever
the input's length.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.stream.chunker import Stream
from hologram.stream.engine import Engine, plan_groups
from hologram.stream.errors import SourceError, StreamError
from hologram.stream.gauge import DEFAULT_LEVELS
from hologram.stream.ops import StreamOp
from hologram.stream.storage import EmbeddedContext, UniversalMemoryPool

if TYPE_CHECKING:
    from hologram.runtime.executor import Executor
    from hologram.stream.heads import DomainHead
    from hologram.stream.sinks import Sink


class ComputePipeline:
    """Stream ops in order, run on `executor` (default: one on `settings().backend`) through
    a working pool of `pool_bytes` (default: `settings().stream_pool`)."""

    def __init__(
        self,
        executor: Executor | str | None = None,
        *,
        pool_bytes: int | None = None,
        ops: Sequence[StreamOp] = (),
    ) -> None:
        self._executor = executor
        self.pool_bytes = pool_bytes
        self.ops: list[StreamOp] = []
        for op in ops:
            self.add_op(op)

    def add_op(self, op: StreamOp) -> ComputePipeline:
        """Append `op`; returns the pipeline, so that calls chain."""
        if not isinstance(op, StreamOp):
            raise StreamError(f"add_op takes a StreamOp, got {type(op).__name__}")
        self.ops.append(op)
        return self

    @property
    def executor(self) -> Executor:
        """The executor the ops run on (made on first use)."""
        from hologram.runtime.executor import Executor

        if not isinstance(self._executor, Executor):
            self._executor = Executor(self._executor)
        return self._executor

    def pool_size(self) -> int:
        """The working pool's size in bytes."""
        if self.pool_bytes is not None:
            return int(self.pool_bytes)
        from hologram.config import settings

        return settings().stream_pool

    def out_dtype(self, dtype: Any) -> np.dtype:
        """The dtype of the output for an input of `dtype` (checks every op)."""
        groups = plan_groups(self.ops, np.dtype(dtype))
        return groups[-1].out_dtype if groups else np.dtype(dtype)

    def engine(self, stream: Stream, levels: int, keep: UniversalMemoryPool | None = None):  # noqa: ANN201
        """The streaming loop for `stream` (see `engine.py`)."""
        groups = plan_groups(self.ops, stream.dtype)
        return Engine(stream, self.executor, groups, levels, self.pool_size(), keep)

    def execute(
        self,
        source: Any,
        levels: int = DEFAULT_LEVELS,
        *,
        sink: Sink | None = None,
        heads: Sequence[DomainHead] = (),
        dtype: Any = None,
        period: int | None = None,
        detect: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> EmbeddedContext:
        """Stream `source` (anything `Stream` takes, or a Stream) through the ops.

        Each computed chunk goes to every head in `heads`, then to `sink` if given, else into
        the returned context's pool. `progress` is called with the bytes read so far after
        each chunk. A source failing mid-stream raises SourceError with the bytes processed;
        the sink is aborted (see its `abort`) and never left holding part of a chunk.
        """
        stream = source if isinstance(source, Stream) else Stream(
            source, dtype=dtype, period=period, detect=detect
        )  # fmt: skip
        keep = None
        if sink is None:
            keep = UniversalMemoryPool(self.executor, _expected_output(stream, self))
        engine = self.engine(stream, levels, keep)
        out_dtype = engine.out_dtype
        context = EmbeddedContext(
            pool=keep if keep is not None else UniversalMemoryPool(self.executor),
            dtype=out_dtype,
            period=stream.period,
            period_from=stream.period_from,
            sink=sink,
        )
        for head in heads:
            head.start(out_dtype)
        if sink is not None:
            sink.open(out_dtype)
        try:
            for block in engine.blocks(progress):
                for head in heads:
                    head.update(block)
                if sink is not None:
                    sink.write(block)
                else:
                    context.pool.add(block)
                context.gauges.append(block.gauge)
                context.total_bytes += block.nbytes
        except SourceError as exc:
            if sink is not None:
                note = sink.abort()
                exc.args = (f"{exc.args[0]}; {note}",)
            raise
        except BaseException:
            if sink is not None:
                sink.abort()
            raise
        context.bytes_read = engine.bytes_read
        if sink is not None:
            sink.close()
        context.modalities = {head.name: head.finish() for head in heads}
        return context

    def __getstate__(self) -> dict[str, Any]:
        # An Executor holds device memory and is not shipped: the copy makes its own.
        state = dict(self.__dict__)
        executor = state["_executor"]
        if executor is not None and not isinstance(executor, str):
            state["_executor"] = executor.backend_name
        return state

    def __repr__(self) -> str:
        return f"<ComputePipeline {' -> '.join(map(repr, self.ops)) or 'no ops'}>"


def _expected_output(stream: Stream, pipeline: ComputePipeline) -> int | None:
    if stream.nbytes is None:
        return None
    out = pipeline.out_dtype(stream.dtype)
    return stream.nbytes // stream.dtype.itemsize * out.itemsize
