"""A small MLP trained on scikit-learn's bundled digits: real trained weights for the tests.

Trained here with NumPy (He-normal initialisation, Adam, a few epochs), so that the weights
have the shape of trained network weights without downloading anything.
"""

from __future__ import annotations

import numpy as np

HIDDEN = (256, 256)


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train and test splits of the digits data, scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    split = int(0.75 * len(x))
    return x[:split], y[:split], x[split:], y[split:]


def forward(weights: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Logits of the MLP with `weights` (`w0`, `b0`, ... in order)."""
    h = x
    layers = len(weights) // 2
    for k in range(layers):
        h = h @ weights[f"w{k}"] + weights[f"b{k}"]
        if k < layers - 1:
            h = np.maximum(h, 0)
    return h


def accuracy(weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """Share of `x` classified as `y`."""
    return float(np.mean(forward(weights, x).argmax(axis=1) == y))


def train(
    seed: int, epochs: int = 6, hidden: tuple[int, ...] = HIDDEN, rate: float = 1e-3
) -> dict[str, np.ndarray]:
    """Weights of an MLP trained on the digits training split with Adam."""
    x, y, _, _ = digits()
    rng = np.random.default_rng(seed)
    sizes = [x.shape[1], *hidden, 10]
    params = {}
    for k, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        params[f"w{k}"] = (rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(np.float32)
        params[f"b{k}"] = np.zeros(b, np.float32)
    moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in params.items()}
    step, layers = 0, len(sizes) - 1
    for _ in range(epochs):
        for batch in np.array_split(rng.permutation(len(x)), len(x) // 32):
            acts = [x[batch]]
            for k in range(layers):
                z = acts[-1] @ params[f"w{k}"] + params[f"b{k}"]
                acts.append(np.maximum(z, 0) if k < layers - 1 else z)
            p = np.exp(acts[-1] - acts[-1].max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(batch)), y[batch]] -= 1
            grad = p / len(batch)
            step += 1
            for k in reversed(range(layers)):
                grads = {f"w{k}": acts[k].T @ grad, f"b{k}": grad.sum(axis=0)}
                if k:
                    grad = (grad @ params[f"w{k}"].T) * (acts[k] > 0)
                for name, g in grads.items():
                    m, v = moments[name]
                    m[:] = 0.9 * m + 0.1 * g
                    v[:] = 0.999 * v + 0.001 * g * g
                    m_hat, v_hat = m / (1 - 0.9**step), v / (1 - 0.999**step)
                    params[name] -= rate * m_hat / (np.sqrt(v_hat) + 1e-8)
    return {k: v.astype(np.float32) for k, v in params.items()}
