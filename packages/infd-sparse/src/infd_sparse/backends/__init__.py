"""Implementations of the sparse depthwise convolution, chosen through the ``infd`` hooks."""
