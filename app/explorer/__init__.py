"""The explorer (1-D, 2-D and 3-D convolution): its page and panels."""
