"""Row normalisations: softmax and layer_norm, one lane per row (used by `hologram.ops`)."""
