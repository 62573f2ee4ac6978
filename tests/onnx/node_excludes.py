"""The onnx node tests hologram does not pass, each with the reason (regexes on test names).

Keep this list honest: every entry says why, and the list shrinks as ops land.
"""

EXCLUDED: dict[str, str] = {
    # Random numbers: the expected values are draws from NumPy's own generator, which no
    # other generator reproduces. hologram's Bernoulli and training Dropout run (seeded,
    # counter-based) and are tested on their statistics instead.
    r"^test_bernoulli": "expected values are draws from NumPy's generator",
    r"^test_training_dropout(_default)?(_mask)?_": "training mask drawn by NumPy's generator",
    # Strings: the ISA has no string type, so no kernel can compute with them (string tensors
    # pass through Identity, sequences and optionals; numeric LabelEncoder/TfIdf work).
    r"^test_(string_concat|string_split|regex_full_match|strnormalizer)": "string operator",
    r"^test_equal_string": "Equal on strings",
    r"^test_ai_onnx_ml_label_encoder_(string_int|tensor_mapping|tensor_value_only)": (
        "string keys or values"
    ),
    # Decoding JPEG, PNG, TIFF, WebP, BMP, PNM and JPEG 2000 is a codec, not a tensor
    # computation that the ISA expresses.
    r"^test_image_decoder_": "image codecs",
    # The expected output is float32 FFT rounding noise (~2e-7) where the exact inverse is 0,
    # against an atol of 1e-7; hologram's float64 transform gives ~1e-15 there.
    r"^test_dft_inverse": "expected values carry NumPy's float32 FFT noise beyond the tolerance",
    # The expanded graph rounds to float16 after every op; hologram's MatMul accumulates the
    # float16 product in float32 and rounds once, one unit in the last place away on a few
    # elements. The non-expanded Attention test passes.
    r"^test_attention_4d_causal_fp16_expanded": "one float16 ulp on a few elements",
    # onnx's runner fails comparing this sequence output of a Loop ("len() of unsized
    # object"); node_status.py compares the same values and passes.
    r"^test_loop16_seq_none": "onnx's runner cannot compare this output",
}
