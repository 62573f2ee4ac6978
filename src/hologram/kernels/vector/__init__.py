"""Elementwise kernels of two arrays: arithmetic, minimum, maximum and power."""
