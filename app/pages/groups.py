"""Groups & depthwise: how groups wire input maps to output maps."""

from app.groups.page import groups_page


def main() -> None:
    groups_page()


main()
