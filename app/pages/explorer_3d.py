"""3-D convolution: volumes and video clips (depth or time × height × width); per-axis stride,
padding and dilation, a window of voxels stepped through depth slices and a rotatable view."""

from app.explorer.page import explorer_page


def main() -> None:
    explorer_page(3)


main()
