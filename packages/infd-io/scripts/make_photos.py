"""Regenerate ``src/infd_io/data/photos/*.jpg`` from the photographs bundled in scikit-image.

Run once by a maintainer (``pip install scikit-image``); infd-io itself never needs scikit-image.
Each photo is resized so that its short side is 320 pixels (Lanczos) and saved as JPEG quality 90.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SHORT_SIDE = 320
QUALITY = 90
PHOTOS = ("astronaut", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry", "retina", "rocket")
OUT = Path(__file__).resolve().parents[1] / "src" / "infd_io" / "data" / "photos"


def main() -> None:
    import skimage.data

    OUT.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        pixels = np.asarray(getattr(skimage.data, name)())[..., :3]
        image = Image.fromarray(pixels)
        scale = SHORT_SIDE / min(image.size)
        size = (round(image.width * scale), round(image.height * scale))
        image.resize(size, Image.Resampling.LANCZOS).save(OUT / f"{name}.jpg", quality=QUALITY, optimize=True)
        print(name, size)


if __name__ == "__main__":
    main()
