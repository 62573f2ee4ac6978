"""A pipeline over a dask array: the same ops on every block, on a machine or a cluster.

    import dask.array as da
    from hologram.stream import ComputePipeline, ReLU, ScalarMul
    from hologram.stream import dask as hsd

    pipeline = ComputePipeline("cpu").add_op(ReLU()).add_op(ScalarMul(0.5))
    y = hsd.map_blocks(pipeline, da.from_zarr(...))      # lazy, like any dask array
    stats = hsd.aggregate(pipeline, x).stats             # min, max, sum, mean, count

Each dask block is streamed through the pipeline on the worker that holds it (through the
worker's own pool), so a cluster scales the pipeline out. Needs the `dask` extra.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hologram.stream.errors import StreamError
from hologram.stream.gauge import DEFAULT_LEVELS
from hologram.stream.heads import AggregateDomainHead, Modality
from hologram.stream.pipeline import ComputePipeline


def _dask_array() -> Any:
    try:
        import dask.array as da
    except ImportError:
        raise StreamError("hologram.stream.dask needs dask: pip install 'hologram[dask]'") from None
    return da


def run_block(block: np.ndarray, pipeline: ComputePipeline, levels: int) -> np.ndarray:
    """One dask block through `pipeline`, in its own shape."""
    flat = np.ascontiguousarray(block).reshape(-1)
    if flat.size == 0:
        return np.empty(block.shape, pipeline.out_dtype(block.dtype))
    context = pipeline.execute(flat, levels)
    return context.to_numpy().reshape(block.shape)


def map_blocks(pipeline: ComputePipeline, array: Any, levels: int = DEFAULT_LEVELS) -> Any:
    """`array` (a dask array) with `pipeline` applied to every element, lazily."""
    _dask_array()
    return array.map_blocks(
        run_block, pipeline, levels, dtype=pipeline.out_dtype(array.dtype), meta=np.empty(0)
    )


def _partial(block: np.ndarray, pipeline: ComputePipeline, levels: int) -> AggregateDomainHead:
    head = AggregateDomainHead()
    head.start(pipeline.out_dtype(block.dtype))
    flat = np.ascontiguousarray(block).reshape(-1)
    if flat.size:
        pipeline.execute(flat, levels, heads=[_Feed(head)])
    return head


class _Feed(AggregateDomainHead):
    """Feeds a started head without restarting it (a pipeline calls `start` on its heads)."""

    def __init__(self, head: AggregateDomainHead) -> None:
        self.head = head

    def start(self, dtype: np.dtype) -> None:
        pass

    def update(self, block: Any) -> None:
        self.head.update(block)

    def finish(self) -> Modality:
        return self.head.finish()


def aggregate(pipeline: ComputePipeline, array: Any, levels: int = DEFAULT_LEVELS) -> Modality:
    """The aggregates (min, max, sum, mean, count) of `pipeline` over `array`, computed per
    block where the block lives and merged (only the small per-block states travel)."""
    import dask

    _dask_array()
    blocks = array.to_delayed().ravel()
    partials = [dask.delayed(_partial)(b, pipeline, levels) for b in blocks]
    (heads,) = dask.compute(partials)
    total = AggregateDomainHead()
    total.start(pipeline.out_dtype(array.dtype))
    for head in heads:
        total.merge(head)
    return total.finish()
