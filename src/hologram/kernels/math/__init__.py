"""Elementwise math functions of one array: abs, neg, sqrt, exp, log and erf."""
