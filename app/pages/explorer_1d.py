"""1-D convolution: the seeds' signals, stride, padding and dilation on one axis."""

from app.explorer.page import explorer_page


def main() -> None:
    explorer_page(1)


main()
