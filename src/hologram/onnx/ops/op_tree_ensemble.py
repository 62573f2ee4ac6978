"""ai.onnx.ml TreeEnsemble (opset 5): sum (or average, min, max) the leaves that each row of X
reaches in a forest of decision trees, one score per target.

Node `k` compares feature `nodes_featureids[k]` of the row with `nodes_splits[k]` by its mode
(0 `<=`, 1 `<`, 2 `>=`, 3 `>`, 4 `==`, 5 `!=`, 6 membership in its part of
`membership_values`, the parts delimited by NaN in the order of the membership nodes); a NaN
feature also goes the true way where `nodes_missing_value_tracks_true[k]` is set. The true
way leads to node or leaf `nodes_truenodeids[k]` (a leaf where `nodes_trueleafs[k]`), the
false way likewise. Leaf `j` gives `leaf_weights[j]` to target `leaf_targetids[j]`; a target
no leaf reaches scores 0. `post_transform` then maps each row's scores: 0 none, 1 softmax,
2 logistic, 3 softmax of the non-zero scores (zeros stay 0), 4 probit (the approximation of
the inverse error function that onnxruntime uses).

While planning, the attributes become tables (the node graph is checked to be acyclic); one
lane walks one tree for one row, then one lane aggregates one target of one row, in float64.
"""

from __future__ import annotations

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.registry import onnx_op

BLOCK = 256
COLUMNS = 9
"""Entries per node in the node table: feature, mode, true id, true is a leaf, false id,
false is a leaf, NaN goes true, first member, end of the members."""
_MEMBER = 6


@hg.kernel
def onnx_tree_walk(
    x: hg.Array,
    nodes: hg.Array[hg.int32],
    splits: hg.Array,
    members: hg.Array,
    roots: hg.Array[hg.int32],
    reached: hg.Array[hg.int32],
    n: hg.uint32,
    trees: hg.int32,
    features: hg.int32,
):
    """Lane `i < n` of `reached` viewed as `(rows, trees)` at `(r, t)` is the leaf that row
    `r` of `x` reaches in tree `t` (see the module docstring for the node table)."""
    i = hg.uint32(hg.global_id())
    if i < n:
        row = hg.int32(i) // trees
        node = roots[hg.int32(i) - row * trees]
        leaf = -1
        while leaf < 0:
            at = node * COLUMNS
            value = x[row * features + nodes[at]]
            mode = nodes[at + 1]
            split = splits[node]
            go_true = False
            if mode == 0:
                go_true = value <= split
            elif mode == 1:
                go_true = value < split
            elif mode == 2:
                go_true = value >= split
            elif mode == 3:
                go_true = value > split
            elif mode == 4:
                go_true = value == split
            elif mode == 5:
                go_true = value != split
            else:
                for k in range(nodes[at + 7], nodes[at + 8]):
                    if value == members[k]:
                        go_true = True
            if value != value and nodes[at + 6] != 0:
                go_true = True
            side = at + 2 if go_true else at + 4
            if nodes[side + 1] != 0:
                leaf = nodes[side]
            else:
                node = nodes[side]
        reached[i] = leaf


@hg.kernel
def onnx_tree_aggregate(
    reached: hg.Array[hg.int32],
    targets: hg.Array[hg.int32],
    weights: hg.Array[hg.float64],
    scores: hg.Array,
    n: hg.uint32,
    n_targets: hg.int32,
    trees: hg.int32,
    aggregate: hg.Const[int] = 1,
):
    """Lane `i < n` of `scores` viewed as `(rows, n_targets)` at `(r, c)` combines the weights
    of the leaves of row `r` that belong to target `c`: 0 average, 1 sum, 2 min, 3 max."""
    i = hg.uint32(hg.global_id())
    if i < n:
        row = hg.int32(i) // n_targets
        target = hg.int32(i) - row * n_targets
        total = hg.float64(0.0)
        seen = False
        for t in range(trees):
            leaf = reached[row * trees + t]
            if targets[leaf] == target:
                weight = weights[leaf]
                if aggregate == 2:
                    total = min(total, weight) if seen else weight
                elif aggregate == 3:
                    total = max(total, weight) if seen else weight
                else:
                    total += weight
                seen = True
        if aggregate == 0:
            total = total / hg.float64(trees)
        scores[i] = total


@hg.kernel
def onnx_tree_post_transform(
    scores: hg.Array[hg.float64],
    out: hg.Array,
    n: hg.uint32,
    n_targets: hg.int32,
    transform: hg.Const[int] = 1,
):
    """Lane `i < n` of `out` viewed as `(rows, n_targets)` is its score transformed: 1
    softmax over the row, 2 logistic, 3 softmax of the row's non-zero scores, 4 probit."""
    i = hg.uint32(hg.global_id())
    if i < n:
        value = scores[i]
        if transform == 2:
            out[i] = hg.sigmoid(value)
        elif transform == 4:
            out[i] = 1.41421356 * onnx_tree_erf_inverse(value * 2.0 - 1.0)
        else:
            first = (hg.int32(i) // n_targets) * n_targets
            largest = scores[first]
            for k in range(first + 1, first + n_targets):
                largest = max(largest, scores[k])
            total = 0.0
            for k in range(first, first + n_targets):
                total += onnx_tree_softmax_term(scores[k], largest, transform == 3)
            out[i] = onnx_tree_softmax_term(value, largest, transform == 3) / total


@hg.func
def onnx_tree_softmax_term(value, largest, skip_zeros):
    """`exp(value - largest)`; with `skip_zeros`, a score within 1e-7 of 0 stays near 0."""
    if skip_zeros and -1e-7 <= value <= 1e-7:
        return value * hg.exp(-largest)
    return hg.exp(value - largest)


@hg.func
def onnx_tree_erf_inverse(x):
    """The inverse error function, approximated as onnxruntime does (Winitzki's formula)."""
    sign = -1.0 if x < 0.0 else 1.0
    log = hg.log((1.0 - x) * (1.0 + x))
    a = 2.0 / (3.14159 * 0.147) + 0.5 * log
    b = log / 0.147
    return sign * hg.sqrt(hg.sqrt(a * a - b) - a)


@onnx_op("TreeEnsemble", since=5, domain="ai.onnx.ml")
def tree_ensemble(ctx: OpContext) -> None:
    """X `[N, F]` (float, double or float16); Y `[N, n_targets]` of X's type."""
    x = ctx.input(0)
    if x.elem not in (types.FLOAT, types.DOUBLE, types.FLOAT16):
        raise ctx.unsupported(f"inputs of type {types.elem_name(x.elem)}")
    if x.rank != 2:
        raise ctx.error(f"X must have shape [N, F], got {list(x.shape)}")
    aggregate = int(ctx.attr("aggregate_function", 1))
    transform = int(ctx.attr("post_transform", 0))
    if aggregate not in range(4) or transform not in range(5):
        raise ctx.error(f"aggregate_function {aggregate} or post_transform {transform} unknown")
    n_targets = int(ctx.attr("n_targets"))
    table, splits, members, roots = _forest(ctx, x.shape[1])
    leaf_targets = np.asarray(ctx.attr("leaf_targetids"), np.int64)
    leaf_weights = np.asarray(ctx.attr("leaf_weights"), np.float64).reshape(-1)
    if leaf_targets.size != leaf_weights.size:
        raise ctx.error("leaf_targetids and leaf_weights differ in length")
    if leaf_targets.size and not (leaf_targets.min() >= 0 and leaf_targets.max() < n_targets):
        raise ctx.error(f"a leaf target id is outside [0, {n_targets})")
    out = ctx.output(0, [x.shape[0], n_targets], x.elem)
    if out.size == 0:
        return
    rows, trees = x.shape[0], roots.size
    values = types.numpy_dtype(x.elem)
    reached = ctx.scratch([rows, trees], types.INT32)
    walk = [
        x,
        ctx.constant(table),
        ctx.constant(splits.astype(values), x.elem),
        ctx.constant(members.astype(values), x.elem),
        ctx.constant(roots),
        reached,
        reached.size,
        trees,
        x.shape[1],
    ]
    ctx.launch(onnx_tree_walk, hg.blocks(reached.size, BLOCK), BLOCK, walk)
    scores = out if transform == 0 else ctx.scratch(out.shape, types.DOUBLE)
    targets = ctx.constant(leaf_targets.astype(np.int32))
    weights = ctx.constant(leaf_weights)
    args = [reached, targets, weights, scores, out.size, n_targets, trees, aggregate]
    ctx.launch(onnx_tree_aggregate, hg.blocks(out.size, BLOCK), BLOCK, args)
    if transform:
        args = [scores, out, out.size, n_targets, transform]
        ctx.launch(onnx_tree_post_transform, hg.blocks(out.size, BLOCK), BLOCK, args)


def _forest(ctx: OpContext, features: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The node table, the splits, the members of the membership nodes and the roots."""
    feature = np.asarray(ctx.attr("nodes_featureids"), np.int64)
    count = feature.size
    modes = np.asarray(ctx.attr("nodes_modes"), np.int64).reshape(-1)
    splits = np.asarray(ctx.attr("nodes_splits"), np.float64).reshape(-1)
    true_ids = np.asarray(ctx.attr("nodes_truenodeids"), np.int64)
    true_leaf = np.asarray(ctx.attr("nodes_trueleafs"), np.int64) != 0
    false_ids = np.asarray(ctx.attr("nodes_falsenodeids"), np.int64)
    false_leaf = np.asarray(ctx.attr("nodes_falseleafs"), np.int64) != 0
    nan_true = np.asarray(ctx.attr("nodes_missing_value_tracks_true", [0] * count), np.int64)
    columns = [modes, splits, true_ids, true_leaf, false_ids, false_leaf, nan_true]
    if count == 0 or any(c.size != count for c in columns):
        raise ctx.error("the nodes_* attributes must be non-empty and of one length")
    if feature.min() < 0 or feature.max() >= features or modes.min() < 0 or modes.max() > 6:
        raise ctx.error(f"a node has a feature outside [0, {features}) or an unknown mode")
    leaves = len(ctx.attr("leaf_targetids"))
    for ids, is_leaf in ((true_ids, true_leaf), (false_ids, false_leaf)):
        bound = np.where(is_leaf, leaves, count)
        if ids.min() < 0 or np.any(ids >= bound):
            raise ctx.error("a node's child is not a node or leaf of the ensemble")
    roots = np.asarray(ctx.attr("tree_roots"), np.int64)
    if roots.size == 0 or roots.min() < 0 or roots.max() >= count:
        raise ctx.error("tree_roots must name at least one node")
    _check_acyclic(ctx, roots, true_ids, true_leaf, false_ids, false_leaf)
    member_bounds, members = _membership(ctx, modes)
    table = np.stack(
        [feature, modes, true_ids, true_leaf, false_ids, false_leaf, nan_true, *member_bounds],
        axis=1,
    )
    return table.astype(np.int32).reshape(-1), splits, members, roots.astype(np.int32)


def _membership(ctx: OpContext, modes: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Each node's range in the members table (empty except for membership nodes), and the
    table: `membership_values` without its NaN delimiters."""
    starts, ends = np.zeros(modes.size, np.int64), np.zeros(modes.size, np.int64)
    given = "membership_values" in ctx.node.attrs
    values = np.asarray(ctx.attr("membership_values", []), np.float64).reshape(-1)
    member_nodes = np.flatnonzero(modes == _MEMBER)
    if member_nodes.size and not given:
        raise ctx.error("membership nodes need membership_values")
    delimiters = np.flatnonzero(np.isnan(values))
    if member_nodes.size and delimiters.size < member_nodes.size:
        raise ctx.error("membership_values must hold one NaN-terminated set per membership node")
    kept = values[~np.isnan(values)]
    begin = 0
    for k, node in enumerate(member_nodes):
        end = delimiters[k] - k  # the position among the kept values
        starts[node], ends[node] = begin, end
        begin = end
    return [starts, ends], kept if kept.size else np.zeros(1)


def _check_acyclic(
    ctx: OpContext,
    roots: np.ndarray,
    true_ids: np.ndarray,
    true_leaf: np.ndarray,
    false_ids: np.ndarray,
    false_leaf: np.ndarray,
) -> None:
    """Raise unless every walk from a root reaches a leaf (no node leads back to itself)."""
    state = np.zeros(true_ids.size, np.int8)  # 0 unseen, 1 on the current path, 2 done
    for root in roots.tolist():
        stack = [(root, False)]
        while stack:
            node, leaving = stack.pop()
            if leaving:
                state[node] = 2
                continue
            if state[node] == 2:
                continue
            if state[node] == 1:
                raise ctx.error(f"tree node {node} leads back to itself")
            state[node] = 1
            stack.append((node, True))
            for child, is_leaf in ((true_ids[node], true_leaf[node]),
                                   (false_ids[node], false_leaf[node])):  # fmt: skip
                if not is_leaf:
                    if state[child] == 1:
                        raise ctx.error(f"tree node {child} leads back to itself")
                    stack.append((int(child), False))
