"""Receptive field: a stack of up to eight convolutions, the field of any cell and its paths."""

from app.receptive.page import receptive_page


def main() -> None:
    receptive_page()


main()
