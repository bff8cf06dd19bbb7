"""Transposed convolution & gradients: scatter and gather views, the backward pass."""

from app.transposed.page import transposed_page


def main() -> None:
    transposed_page()


main()
