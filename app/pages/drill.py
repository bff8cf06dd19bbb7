"""Shape drill: predict the output shape of seeded random layers, then see the formula."""

from app.drill.page import drill_page


def main() -> None:
    drill_page()


main()
