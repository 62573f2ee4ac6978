"""Kernels shaped for device backends: many lanes of a block sharing one piece of work through
the ISA's block features, where the host kernels give each lane its own (used by
`hologram.ops` when the backend is not the host)."""
