"""Linear algebra: the matrix product and the BLAS-style vector updates around it."""
