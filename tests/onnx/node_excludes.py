"""The onnx node tests hologram does not pass, each with the reason (regexes on test names).

Keep this list honest: every entry says why, and the list shrinks as ops land.
"""

EXCLUDED: dict[str, str] = {
    # Random numbers: the expected values are draws from NumPy's own generator, which no
    # other generator reproduces. hologram's Bernoulli and training Dropout run (seeded,
    # counter-based) and are tested on their statistics instead.
    r"^test_bernoulli": "expected values are draws from NumPy's generator",
    r"^test_training_dropout(_default)?(_mask)?_": "training mask drawn by NumPy's generator",
}
