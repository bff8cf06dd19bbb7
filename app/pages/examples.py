"""Documented examples: every worked example of the source documents against convcore."""

from app.examples.page import examples_page


def main() -> None:
    examples_page()


main()
