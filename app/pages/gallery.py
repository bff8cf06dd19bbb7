"""Arithmetic gallery: the canonical cases of Dumoulin & Visin's guide."""

from app.gallery.page import gallery_page


def main() -> None:
    gallery_page()


main()
