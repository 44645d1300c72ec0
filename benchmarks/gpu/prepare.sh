#!/usr/bin/env bash
# Run HERE (no GPU), from the repository root, before a GPU session's first `run`: fills .whl/ (ignored by
# git, carried to the device with `carry: [".whl"]`) with the infd wheels and the third-party wheels the
# device image lacks (its python3 is 3.12 with torch, torchvision, triton, numpy, pluggy, click, safetensors,
# pillow, pyyaml, fsspec, tqdm, scipy, timm, huggingface-hub, regex: see the device library's KINDS.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
rm -rf .whl && mkdir -p .whl
for dist in packages/*/ plugins/*/; do
    "$PYTHON" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir .whl "$dist"
done
THIRD_PARTY=(
    "pydantic==2.12.5" "pydantic-core==2.41.5" "annotated-types==0.7.0" "typing-inspection==0.4.2"
    "zarr==3.1.6" "numcodecs==0.16.5" "donfig==0.8.1.post1" "google-crc32c==1.9.0"
    "open_clip_torch==3.3.0" "ftfy==6.3.1" "wcwidth==0.9.4" "clean-fid==0.1.35"  # infd-metrics, INFD
)
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "${THIRD_PARTY[@]}"
du -sh .whl && ls .whl
