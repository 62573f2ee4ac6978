"""Elementwise activation functions: relu, sigmoid, tanh and gelu."""
