"""Make the app's sample signals and images, deterministically (fixed seeds, no fonts, no
downloads).

    python assets/make_assets.py            # (re)write the files next to this script
    python assets/make_assets.py --check    # exit 1 if the files differ from what this makes

1-D signals are one-column CSV files (a ``#`` comment line, then one value per line, 6
decimals); 2-D maps are 8-bit PNG files (grayscale, and one RGB image).  The app reads them
with ``app.sources.load_sample``: signals as ``(1, L)``, images as ``(C, H, W)`` in [0, 1].
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent

# file name -> one-line description (written into CSV files, shown by --check)
DESCRIPTIONS = {
    "chirp.csv": "chirp: 256 samples, sine sweeping from 1 to 24 cycles per 256 samples",
    "step.csv": "step: 200 samples, 0 then 1 from sample 100 on",
    "noisy_sine.csv": "noisy sine: 256 samples, 4 cycles plus Gaussian noise (sigma 0.25, seed 42)",
    "spike_train.csv": "spike train: 200 samples, spikes every 25 samples from 12, heights "
                       "1, 0.5, 0.75, 0.25 repeating",
    "checkerboard.png": "checkerboard: 16x16, 4x4 squares of 0 and 1",
    "letter_f.png": "letter F: 16x16 block letter, strokes 3 pixels wide, 1 on 0",
    "gradient_blob.png": "gradient blob: 32x32 smooth diagonal gradient with a soft bright blob",
    "rgb_scene.png": "rgb scene: 64x64 RGB sky, sun and textured hills (texture seed 7)",
}


def _round6(x: np.ndarray) -> np.ndarray:
    """What the CSV file stores: values rounded to 6 decimals (and no negative zero)."""
    return np.round(np.asarray(x, dtype=np.float64), 6) + 0.0


def chirp(n: int = 256, f0: float = 1.0, f1: float = 24.0) -> np.ndarray:
    t = np.arange(n) / n
    return _round6(np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / 2)))


def step(n: int = 200, at: int = 100) -> np.ndarray:
    return _round6((np.arange(n) >= at).astype(np.float64))


def noisy_sine(n: int = 256, cycles: int = 4, sigma: float = 0.25, seed: int = 42) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / n
    return _round6(np.sin(2 * np.pi * cycles * t) + sigma * rng.standard_normal(n))


def spike_train(n: int = 200, first: int = 12, every: int = 25) -> np.ndarray:
    x = np.zeros(n)
    heights = (1.0, 0.5, 0.75, 0.25)
    for k, pos in enumerate(range(first, n, every)):
        x[pos] = heights[k % len(heights)]
    return _round6(x)


def checkerboard(side: int = 16, square: int = 4) -> np.ndarray:
    yy, xx = np.indices((side, side))
    return (((yy // square) + (xx // square)) % 2 * 255).astype(np.uint8)


def letter_f(side: int = 16) -> np.ndarray:
    """A block "F": asymmetric on purpose, so flips and transposes are easy to spot."""
    img = np.zeros((side, side), dtype=np.uint8)
    img[2:14, 3:6] = 255    # stem
    img[2:5, 3:13] = 255    # top bar
    img[7:10, 3:11] = 255   # middle bar
    return img


def gradient_blob(side: int = 32) -> np.ndarray:
    yy, xx = np.indices((side, side)) / (side - 1)
    g = 0.55 * xx + 0.25 * yy + 0.6 * np.exp(-((xx - 0.65) ** 2 + (yy - 0.35) ** 2) / (2 * 0.12**2))
    g = (g - g.min()) / (g.max() - g.min())
    return np.round(g * 255).astype(np.uint8)


def rgb_scene(side: int = 64, seed: int = 7) -> np.ndarray:
    """A photo-like RGB picture: sky gradient, a soft sun, textured green hills."""
    rng = np.random.default_rng(seed)
    yy, xx = np.indices((side, side)) / (side - 1)
    sky_top, sky_low = np.array([0.25, 0.45, 0.85]), np.array([0.75, 0.85, 0.98])
    img = sky_top + (sky_low - sky_top) * yy[..., None]
    sun = np.exp(-((xx - 0.72) ** 2 + (yy - 0.25) ** 2) / (2 * 0.07**2))[..., None]
    img = img * (1 - sun) + np.array([1.0, 0.92, 0.55]) * sun
    horizon = 0.62 + 0.08 * np.sin(2 * np.pi * (1.3 * xx + 0.1))
    ground = yy > horizon
    shade = 0.75 + 0.25 * (yy - horizon)  # a little lighter towards the bottom
    texture = 0.06 * rng.standard_normal((side, side))
    grass = np.stack([0.20 + texture, 0.55 * shade + texture, 0.18 + texture], axis=-1)
    img = np.where(ground[..., None], grass, img)
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


def build() -> dict[str, np.ndarray]:
    """File name -> content: float64 signals (as stored) and uint8 images ``(H, W[, 3])``."""
    return {
        "chirp.csv": chirp(),
        "step.csv": step(),
        "noisy_sine.csv": noisy_sine(),
        "spike_train.csv": spike_train(),
        "checkerboard.png": checkerboard(),
        "letter_f.png": letter_f(),
        "gradient_blob.png": gradient_blob(),
        "rgb_scene.png": rgb_scene(),
    }


def encode(name: str, data: np.ndarray) -> bytes:
    if name.endswith(".csv"):
        lines = [f"# {DESCRIPTIONS[name]}"] + [f"{v:.6f}" for v in data]
        return ("\n".join(lines) + "\n").encode()
    buf = io.BytesIO()
    Image.fromarray(data).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def decode(name: str, raw: bytes) -> np.ndarray:
    if name.endswith(".csv"):
        rows = [ln for ln in raw.decode().splitlines() if ln.strip() and not ln.startswith("#")]
        return np.array([float(v) for v in rows])
    with Image.open(io.BytesIO(raw)) as img:
        return np.asarray(img)


def write(outdir: Path = HERE) -> dict[str, int]:
    sizes = {}
    for name, data in build().items():
        raw = encode(name, data)
        (outdir / name).write_bytes(raw)
        sizes[name] = len(raw)
    return sizes


def check(outdir: Path = HERE) -> list[str]:
    """Names of files that are missing or whose decoded content differs from :func:`build`."""
    bad = []
    for name, data in build().items():
        path = outdir / name
        if not path.exists():
            bad.append(f"{name}: missing")
            continue
        got = decode(name, path.read_bytes())
        if got.shape != data.shape or not np.array_equal(got, data):
            bad.append(f"{name}: content differs from the generator")
    return bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--outdir", type=Path, default=HERE)
    args = parser.parse_args(argv)
    if args.check:
        bad = check(args.outdir)
        for line in bad:
            print(line)
        print("assets up to date" if not bad else f"{len(bad)} asset(s) out of date")
        return 1 if bad else 0
    sizes = write(args.outdir)
    for name, size in sizes.items():
        print(f"{size:7d} B  {name}: {DESCRIPTIONS[name]}")
    print(f"{sum(sizes.values()):7d} B  in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
