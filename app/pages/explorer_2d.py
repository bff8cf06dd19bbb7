"""2-D convolution: images and feature maps; per-axis stride, padding and dilation."""

from app.explorer.page import explorer_page


def main() -> None:
    explorer_page(2)


main()
