"""``infd infbrush embed``: an embedding table of an image folder from a local open_clip checkpoint.

Each image (any size) is resized, centre-cropped and normalised as the CLIP model expects (infd-metrics'
:func:`~infd_metrics.clip.load_clip`, which never downloads weights) and encoded to one L2-normalised
vector; the vectors go to a table (:mod:`infd_infbrush.embeddings`: a ``.safetensors`` file or a ``.zarr``
group, chosen by the name of ``--out``) that ``data.embeddings`` and ``sampling.embeddings`` read.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from infd_core.errors import UsageError
from infd_infbrush.embeddings import EmbeddingTable, check_table_target, relative_name, write_table

logger = logging.getLogger(__name__)


def embed_folder(
    folder: str,
    out: str,
    checkpoint: str,
    model: str = "ViT-B-32",
    architecture: dict[str, Any] | str | None = None,
    device: str | None = None,
) -> EmbeddingTable:
    """Embed every image under ``folder`` with the open_clip model and write the table to ``out``."""
    check_table_target(out)  # a bad name or a zarr location holding something else: before any work
    try:
        from infd_metrics.clip import load_clip
        from infd_metrics.configs import ClipConfig
    except ImportError:
        raise UsageError(
            "infd infbrush embed needs infd-metrics (pip install 'infd-infbrush[embed]')"
        ) from None
    from infd_io.image_folder import ImageFolderDataset

    config = ClipConfig.model_validate(
        {"model": model, "checkpoint": checkpoint, "model_config": architecture}
    )
    encoder = load_clip(config, device)
    images = ImageFolderDataset(folder, value_range=(0.0, 1.0))
    rows, names = [], []
    parameter = next(encoder.parameters())
    with torch.no_grad():
        for i in range(len(images)):
            item = images[i]
            image = item["image"]
            if image.shape[0] == 1:
                image = image.expand(3, -1, -1)
            rows.append(encoder.encode_images(image[None].to(parameter.device)).float().cpu())
            names.append(relative_name(item["path"], folder))
    embeddings = torch.cat(rows)
    source = f"open_clip {encoder.architecture[:80]} ({checkpoint})"
    write_table(out, embeddings, names, encoder=source)
    logger.info("wrote %d embeddings of %d features to %s", len(names), embeddings.shape[1], out)
    return EmbeddingTable(embeddings, names, source)
