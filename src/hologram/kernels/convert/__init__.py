"""Dtype conversion: copy an array into another dtype and shape."""
