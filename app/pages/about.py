"""About: what "convolution" means here, the formula, the backend in use, and the core's three
algorithms timed on this server."""

from app.about.page import about_page


def main() -> None:
    about_page()


main()
