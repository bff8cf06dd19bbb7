"""The transposed convolution & gradients page."""
