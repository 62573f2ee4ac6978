"""Kernels shaped for device backends (used by `hologram.ops` when the backend is not the
host): adjacent lanes read adjacent elements and enough lanes or blocks share the work to fill
a GPU, where the host kernels give each lane a long run of its own."""
