"""A network convcore trained: every layer of a small CNN on a digit you draw."""

from app.network.page import network_page


def main() -> None:
    network_page()


main()
