"""The per-step kernels of RNN, GRU and LSTM: gates and state updates, one lane per unit.

Each time step of a recurrent op is one matrix product (`H @ R^T` for every direction at
once, on the MATMUL intrinsic) and one launch of a cell kernel here (a GRU without
`linear_before_reset` has two of each: `r * H` is multiplied by `Rh` on its own). The cell
kernel runs one lane per `(direction, batch entry, hidden unit)`: it adds the input
projection `X @ W^T` (computed for all steps up front), the recurrent projection and the
biases of each gate, applies the gate activations and writes the new state and its slot of
`Y`.

Directions advance in lockstep: at step `s` the forward direction reads time `s` and the
reverse one time `length - 1 - s`, where `length` is the batch entry's own sequence length.
Past its length an entry keeps its state and its `Y` entries are zero.

Tables shared by the kernels of a node:
- `geometry` (i32): hidden size, batch, steps, whether direction 0 runs in reverse, the row
  strides of `X @ W^T` along time and batch, the element strides of `Y` along time,
  direction and batch, and the row width of `X @ W^T` (see `GEOMETRY`).
- `params` (f32): per direction, the `(alpha, beta)` of three activation slots (f, g, h).

The activations themselves are Consts, indices of `ACTIVATIONS`: `f`, `g` and `h` for
direction 0, and `f_reverse`, `g_reverse` and `h_reverse` for direction 1 where they differ
(-1 where they are the same), so a kernel holds only the activations it uses.
"""

import hologram as hg

ACTIVATIONS = (
    "relu",
    "tanh",
    "sigmoid",
    "affine",
    "leakyrelu",
    "thresholdedrelu",
    "scaledtanh",
    "hardsigmoid",
    "elu",
    "softsign",
    "softplus",
)
"""Activation names (lower case) by code."""

GEOMETRY = ("hidden", "batch", "steps", "reverse_first", "x_ts", "x_bs", "y_ts", "y_ds", "y_bs",
            "xw_width")  # fmt: skip
"""The entries of the `geometry` table, in order."""

BLOCK = 128
"""Lanes per block of the cell kernels."""


@hg.func
def onnx_rnn_apply(v, code, alpha, beta):
    """Activation `code` (an index of `ACTIVATIONS`; a Const, so one branch remains)."""
    r = v
    if code == 0:
        r = max(v, 0)
    elif code == 1:
        r = hg.tanh(v)
    elif code == 2:
        r = hg.sigmoid(v)
    elif code == 3:
        r = alpha * v + beta
    elif code == 4:
        r = v if v >= 0 else alpha * v
    elif code == 5:
        r = v if v > alpha else 0
    elif code == 6:
        r = alpha * hg.tanh(beta * v)
    elif code == 7:
        r = max(min(alpha * v + beta, 1), 0)
    elif code == 8:
        r = v if v >= 0 else alpha * (hg.exp(v) - 1)
    elif code == 9:
        r = v / (1 + abs(v))
    else:
        r = hg.log(1 + hg.exp(v)) if v < 20 else v
    return r


@hg.func
def onnx_rnn_activation(v, params, d, slot, code, code_reverse):
    """Activation `slot` (f, g or h) of direction `d`: `code`, or `code_reverse` for
    direction 1 when that is not -1; its alpha and beta from the `params` table."""
    at = (d * 3 + slot) * 2
    alpha = params[at]
    beta = params[at + 1]
    r = v
    if code_reverse < 0 or d == 0:
        r = onnx_rnn_apply(v, code, alpha, beta)
    else:
        r = onnx_rnn_apply(v, code_reverse, alpha, beta)
    return r


@hg.func
def onnx_rnn_clip(v, clip):
    """`v` clipped into `[-clip, clip]` when `clip` is positive (0: no clipping)."""
    r = v
    if clip > 0:
        r = min(max(v, -clip), clip)
    return r


@hg.func
def onnx_rnn_time(d, b, step, geometry, seq_lens):
    """The time index direction `d` of batch entry `b` reads at `step`, or -1 past its
    sequence length."""
    length = min(max(hg.int32(seq_lens[b]), 0), geometry[2])
    t = -1
    if step < length:
        t = length - 1 - step if d == 1 or geometry[3] != 0 else step
    return t


@hg.func
def onnx_rnn_x_at(geometry, d, b, t, j, width):
    """The element of `X @ W^T` for direction `d`, batch entry `b`, time `t`, unit `j` of
    gate 0 (gate `g` is `g * hidden` further)."""
    return (t * geometry[4] + b * geometry[5]) * geometry[9] + d * width + j


@hg.func
def onnx_rnn_gate(xw, hr, bias, x_at, r_at, b_at, width, offset, compute):
    """A gate's pre-activation: the input and recurrent projections and both biases."""
    return (
        compute(xw[x_at + offset])
        + compute(hr[r_at + offset])
        + compute(bias[b_at + offset])
        + compute(bias[b_at + width + offset])
    )


@hg.func
def onnx_rnn_y_at(geometry, d, b, t, j):
    """The element of `Y` for direction `d`, batch entry `b`, time `t` and unit `j`."""
    return d * geometry[7] + t * geometry[6] + b * geometry[8] + j


@hg.kernel
def onnx_rnn_cell(
    xw: hg.Array,
    hr: hg.Array,
    bias: hg.Array,
    h_prev: hg.Array,
    h_next: hg.Array,
    y: hg.Array,
    seq_lens: hg.Array[hg.int32],
    params: hg.Array[hg.float32],
    geometry: hg.Array[hg.int32],
    n: hg.int32,
    step: hg.int32,
    clip: hg.float32,
    compute: hg.Const[hg.dtype] = hg.float32,
    f: hg.Const[int] = 1,
    f_reverse: hg.Const[int] = -1,
):
    """A simple RNN step: `H = f(x W^T + H R^T + Wb + Rb)`."""
    i = hg.global_id()
    if i < n:
        hidden = geometry[0]
        j = i % hidden
        db = i // hidden
        b = db % geometry[1]
        d = db // geometry[1]
        t = onnx_rnn_time(d, b, step, geometry, seq_lens)
        if t >= 0:
            x_at = onnx_rnn_x_at(geometry, d, b, t, j, hidden)
            v = onnx_rnn_gate(xw, hr, bias, x_at, i, d * 2 * hidden + j, hidden, 0, compute)
            h = onnx_rnn_activation(onnx_rnn_clip(v, clip), params, d, 0, f, f_reverse)
            h_next[i] = h
            y[onnx_rnn_y_at(geometry, d, b, t, j)] = h
        else:
            h_next[i] = h_prev[i]
            y[onnx_rnn_y_at(geometry, d, b, step, j)] = 0


@hg.kernel
def onnx_gru_reset_hidden(
    xw: hg.Array,
    hr: hg.Array,
    bias: hg.Array,
    h_prev: hg.Array,
    reset_hidden: hg.Array,
    seq_lens: hg.Array[hg.int32],
    params: hg.Array[hg.float32],
    geometry: hg.Array[hg.int32],
    n: hg.int32,
    step: hg.int32,
    clip: hg.float32,
    compute: hg.Const[hg.dtype] = hg.float32,
    f: hg.Const[int] = 2,
    f_reverse: hg.Const[int] = -1,
):
    """`r * H` for a GRU without `linear_before_reset` (the input of its second product)."""
    i = hg.global_id()
    if i < n:
        hidden = geometry[0]
        j = i % hidden
        db = i // hidden
        b = db % geometry[1]
        d = db // geometry[1]
        t = onnx_rnn_time(d, b, step, geometry, seq_lens)
        if t >= 0:
            width = 3 * hidden
            x_at = onnx_rnn_x_at(geometry, d, b, t, j, width)
            r_in = onnx_rnn_gate(
                xw, hr, bias, x_at, db * width + j, d * 2 * width + j, width, hidden, compute
            )
            r = onnx_rnn_activation(onnx_rnn_clip(r_in, clip), params, d, 0, f,
                                    f_reverse)  # fmt: skip
            reset_hidden[i] = r * compute(h_prev[i])
        else:
            reset_hidden[i] = 0


@hg.kernel
def onnx_gru_cell(
    xw: hg.Array,
    hr: hg.Array,
    hh: hg.Array,
    bias: hg.Array,
    h_prev: hg.Array,
    h_next: hg.Array,
    y: hg.Array,
    seq_lens: hg.Array[hg.int32],
    params: hg.Array[hg.float32],
    geometry: hg.Array[hg.int32],
    n: hg.int32,
    step: hg.int32,
    clip: hg.float32,
    linear_before_reset: hg.Const[bool] = False,
    compute: hg.Const[hg.dtype] = hg.float32,
    f: hg.Const[int] = 2,
    g: hg.Const[int] = 1,
    f_reverse: hg.Const[int] = -1,
    g_reverse: hg.Const[int] = -1,
):
    """A GRU step (gates z, r, h): `H = (1 - z) * h~ + z * H`, where `h~` takes the reset
    hidden state's product `hh` (or, `linear_before_reset`, `r` times the product in `hr`)."""
    i = hg.global_id()
    if i < n:
        hidden = geometry[0]
        j = i % hidden
        db = i // hidden
        b = db % geometry[1]
        d = db // geometry[1]
        t = onnx_rnn_time(d, b, step, geometry, seq_lens)
        if t >= 0:
            width = 3 * hidden
            x_at = onnx_rnn_x_at(geometry, d, b, t, j, width)
            r_at = db * width + j
            b_at = d * 2 * width + j
            z_in = onnx_rnn_gate(xw, hr, bias, x_at, r_at, b_at, width, 0, compute)
            z = onnx_rnn_activation(onnx_rnn_clip(z_in, clip), params, d, 0, f,
                                    f_reverse)  # fmt: skip
            h_in = compute(xw[x_at + 2 * hidden]) + compute(bias[b_at + 2 * hidden])
            rb_h = compute(bias[b_at + width + 2 * hidden])
            if linear_before_reset:
                r_in = onnx_rnn_gate(xw, hr, bias, x_at, r_at, b_at, width, hidden, compute)
                r = onnx_rnn_activation(onnx_rnn_clip(r_in, clip), params, d, 0, f,
                                        f_reverse)  # fmt: skip
                h_in += r * (compute(hr[r_at + 2 * hidden]) + rb_h)
            else:
                h_in += compute(hh[i]) + rb_h
            candidate = onnx_rnn_activation(onnx_rnn_clip(h_in, clip), params, d, 1, g,
                                            g_reverse)  # fmt: skip
            h = (1 - z) * candidate + z * compute(h_prev[i])
            h_next[i] = h
            y[onnx_rnn_y_at(geometry, d, b, t, j)] = h
        else:
            h_next[i] = h_prev[i]
            y[onnx_rnn_y_at(geometry, d, b, step, j)] = 0


@hg.kernel
def onnx_lstm_cell(
    xw: hg.Array,
    hr: hg.Array,
    bias: hg.Array,
    peephole: hg.Array,
    h_prev: hg.Array,
    c_prev: hg.Array,
    h_next: hg.Array,
    c_next: hg.Array,
    y: hg.Array,
    seq_lens: hg.Array[hg.int32],
    params: hg.Array[hg.float32],
    geometry: hg.Array[hg.int32],
    n: hg.int32,
    step: hg.int32,
    clip: hg.float32,
    input_forget: hg.int32,
    compute: hg.Const[hg.dtype] = hg.float32,
    f: hg.Const[int] = 2,
    g: hg.Const[int] = 1,
    h: hg.Const[int] = 1,
    f_reverse: hg.Const[int] = -1,
    g_reverse: hg.Const[int] = -1,
    h_reverse: hg.Const[int] = -1,
):
    """An LSTM step (gates i, o, f, c; peepholes i, o, f): `C = f * C + i * g(c)` and
    `H = o * h(C)`; with `input_forget` the forget gate is `1 - i`."""
    i = hg.global_id()
    if i < n:
        hidden = geometry[0]
        j = i % hidden
        db = i // hidden
        b = db % geometry[1]
        d = db // geometry[1]
        t = onnx_rnn_time(d, b, step, geometry, seq_lens)
        if t >= 0:
            width = 4 * hidden
            x_at = onnx_rnn_x_at(geometry, d, b, t, j, width)
            r_at = db * width + j
            b_at = d * 2 * width + j
            p_at = d * 3 * hidden + j
            c_old = compute(c_prev[i])
            i_in = onnx_rnn_gate(xw, hr, bias, x_at, r_at, b_at, width, 0, compute)
            i_in += compute(peephole[p_at]) * c_old
            gate_i = onnx_rnn_activation(onnx_rnn_clip(i_in, clip), params, d, 0, f,
                                         f_reverse)  # fmt: skip
            f_in = onnx_rnn_gate(xw, hr, bias, x_at, r_at, b_at, width, 2 * hidden, compute)
            f_in += compute(peephole[p_at + 2 * hidden]) * c_old
            gate_f = onnx_rnn_activation(onnx_rnn_clip(f_in, clip), params, d, 0, f,
                                         f_reverse)  # fmt: skip
            if input_forget != 0:
                gate_f = 1 - gate_i
            c_in = onnx_rnn_gate(xw, hr, bias, x_at, r_at, b_at, width, 3 * hidden, compute)
            cell = onnx_rnn_activation(onnx_rnn_clip(c_in, clip), params, d, 1, g,
                                       g_reverse)  # fmt: skip
            c_new = gate_f * c_old + gate_i * cell
            o_in = onnx_rnn_gate(xw, hr, bias, x_at, r_at, b_at, width, hidden, compute)
            o_in += compute(peephole[p_at + hidden]) * c_new
            gate_o = onnx_rnn_activation(onnx_rnn_clip(o_in, clip), params, d, 0, f,
                                         f_reverse)  # fmt: skip
            h_new = gate_o * onnx_rnn_activation(c_new, params, d, 2, h, h_reverse)
            c_next[i] = c_new
            h_next[i] = h_new
            y[onnx_rnn_y_at(geometry, d, b, t, j)] = h_new
        else:
            c_next[i] = c_prev[i]
            h_next[i] = h_prev[i]
            y[onnx_rnn_y_at(geometry, d, b, step, j)] = 0
