"""Reductions along axes: sum, min, max and mean of chunks of rows (used by `hologram.ops`)."""
