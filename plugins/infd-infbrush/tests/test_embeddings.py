"""Conditions from precomputed embedding tables: the table format, `infd infbrush embed` with a tiny
local open_clip model, and an ∞-Brush trained on a table and sampled with new embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from brush_runs import read_level0, run_infd, write_config
from PIL import Image

from infd_infbrush.embeddings import read_table, write_table
from infd_infbrush.errors import ConditionError

TINY_CLIP = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def write_images(folder: Path, brightness: dict[str, float], size: int = 32) -> Path:
    """PNG images of textured fields of the given mean brightness (fixed seeds)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, level in brightness.items():
        texture = rng.normal(0, 0.08, (size, size, 3)) + np.linspace(-0.05, 0.05, size)[:, None, None]
        pixels = np.clip(level + texture, 0, 1)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((pixels * 255).round().astype(np.uint8)).save(folder / name)
    return folder


def save_tiny_clip(folder: Path) -> tuple[Path, Path]:
    """A randomly initialised tiny open_clip model: its weights (safetensors) and architecture (JSON)."""
    import open_clip
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY_CLIP)
    with torch.no_grad():
        model.visual.proj.normal_(0, 0.2, generator=torch.Generator().manual_seed(1))
    weights, architecture = folder / "clip.safetensors", folder / "clip.json"
    save_file({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, str(weights))
    architecture.write_text(json.dumps(TINY_CLIP))
    return weights, architecture


FORMATS = ["safetensors", "zarr"]


@pytest.mark.parametrize("suffix", FORMATS)
def test_embed_command_writes_open_clip_image_embeddings(tmp_path, suffix):
    import open_clip
    from safetensors.torch import load_file

    images = write_images(tmp_path / "images", {"a.png": 0.2, "b.png": 0.5, "sub/c.png": 0.8})
    weights, architecture = save_tiny_clip(tmp_path)
    out = tmp_path / f"table.{suffix}"
    run_infd("infbrush", "embed", str(images), "--out", str(out), "--clip", str(weights),
             "--clip-architecture", str(architecture), "--device", "cpu")  # fmt: skip
    table = read_table(str(out))
    assert table.files == ["a.png", "b.png", "sub/c.png"] and table.embeddings.shape == (3, 16)
    # reference: open_clip itself on the 32² images (no resize), OpenAI normalisation, unit vectors
    model = open_clip.CLIP(**TINY_CLIP)
    model.load_state_dict(load_file(str(weights)))
    mean = torch.tensor(open_clip.OPENAI_DATASET_MEAN)[:, None, None]
    std = torch.tensor(open_clip.OPENAI_DATASET_STD)[:, None, None]
    for row, name in enumerate(table.files):
        pixels = torch.from_numpy(np.asarray(Image.open(images / name), dtype=np.float32) / 255)
        with torch.no_grad():
            expected = model.encode_image(((pixels.permute(2, 0, 1) - mean) / std)[None], normalize=True)
        torch.testing.assert_close(table.embeddings[row], expected[0], atol=1e-4, rtol=1e-4)
    assert len({tuple(r.round(decimals=3).tolist()) for r in table.embeddings}) == 3


def test_embed_and_table_errors_are_one_line_usage_errors(tmp_path, capsys):
    images = write_images(tmp_path / "images", {"a.png": 0.5})
    run_infd("infbrush", "embed", str(images), "--out", str(tmp_path / "t.npy"), "--clip", "x", expect=2)
    (tmp_path / "image.zarr").mkdir()
    (tmp_path / "image.zarr" / "zarr.json").write_text("{}")
    capsys.readouterr()
    # a zarr location holding something else is refused before the encoder is even looked for
    run_infd("infbrush", "embed", str(images), "--out", str(tmp_path / "image.zarr"), "--clip", "x", expect=2)
    err = capsys.readouterr().err.strip()
    assert "image.zarr: exists and is not an embedding table" in err and len(err.splitlines()) == 1
    run_infd("infbrush", "embed", str(images), "--out", str(tmp_path / "t.safetensors"),
             "--clip", str(tmp_path / "missing.safetensors"), expect=2)  # fmt: skip
    with pytest.raises(ValueError, match="1 files for 2 embeddings"):
        write_table(tmp_path / "bad.safetensors", torch.zeros(2, 3), ["a.png"])
    (tmp_path / "junk.safetensors").write_bytes(b"not a table")
    with pytest.raises(ConditionError, match="not a readable safetensors file"):
        read_table(str(tmp_path / "junk.safetensors"))


def write_photo_crops(folder: Path, per_photo: int) -> list[str]:
    """Random 32² crops of the dark and the bright built-in photograph (as the class test uses), as PNGs."""
    from infd_io.photos import BuiltinPhotos

    names = []
    for photo in ("hubble_deep_field", "immunohistochemistry"):
        crops = BuiltinPhotos(resolution=32, num_items=per_photo, seed=0, photos=[photo])
        for i in range(per_photo):
            pixels = (crops[i]["image"].permute(1, 2, 0).numpy() + 1) / 2
            name = f"{photo}-{i}.png"
            Image.fromarray((pixels.clip(0, 1) * 255).round().astype(np.uint8)).save(folder / name)
            names.append(name)
    return names


@pytest.fixture(scope="module", params=FORMATS)
def embedding_run(tmp_path_factory, request) -> Path:
    """A tiny ∞-Brush trained on crops of a dark and a bright photograph, conditioned on a 4-d table
    (any encoder: here written by hand, with a little noise per image) in each format; the tests then
    sample with new tables of the same format."""
    folder = tmp_path_factory.mktemp(f"embedding-run-{request.param}")
    (folder / "images").mkdir()
    names = sorted(write_photo_crops(folder / "images", per_photo=16))
    g = torch.Generator().manual_seed(0)
    base = torch.tensor([[1.0, 0, 0, 0] if n.startswith("hubble") else [0, 1.0, 0, 0] for n in names])
    table = folder / f"table.{request.param}"
    write_table(table, base + 0.05 * torch.randn(len(names), 4, generator=g), names, "by hand")
    config = write_config(
        folder / "run.yaml", folder / "out", steps=200,
        data={"source": str(folder / "images"), "embeddings": str(table), "resolution": 16,
              "subsampling": 2, "batch_size": 8},
        model={"sparse_channels": 8, "kernel_size": 3, "grid": {"resolution": 8, "channels": 16},
               "condition": {"kind": "embedding", "dim": 4}},
    )  # fmt: skip
    run_infd("train", str(config))
    return folder


def table_suffix(run: Path) -> str:
    """The format of the run's training table (``.safetensors`` or ``.zarr``)."""
    return next(run.glob("table.*")).suffix


def _means(run: Path, name: str, vector: list[float], scale: float, num: int = 4) -> np.ndarray:
    table = run / f"{name}{table_suffix(run)}"
    write_table(table, torch.tensor([vector]), ["new.png"], "a new embedding")
    out = run / name
    run_infd("sample", str(run / "out" / "checkpoint"), "--num", str(num), "--out", str(out),
             "--set", f"config.sampling.embeddings={table}",
             "--set", f"config.sampling.guidance_scale={scale}")  # fmt: skip
    return np.array([read_level0(out / f"sample-{i:03d}.ome.zarr").mean() / 255 for i in range(num)])


def test_trains_from_a_table_and_new_embeddings_steer_the_samples(embedding_run):
    """New embeddings (not rows of the training table) near the dark and the bright images' rows:
    sample i starts from the same noise under either, so the pairs differ by the condition only."""
    dark = _means(embedding_run, "dark", [0.9, 0.1, 0.0, 0.0], scale=4)
    bright = _means(embedding_run, "bright", [0.1, 0.9, 0.0, 0.0], scale=4)
    assert (bright - dark).mean() > 0.1 and np.sum(bright > dark) >= 3, (dark, bright)
    # w = 0: the unconditional model, whatever the embedding (only the null condition is evaluated)
    a = _means(embedding_run, "u-dark", [0.9, 0.1, 0.0, 0.0], scale=0, num=2)
    b = _means(embedding_run, "u-bright", [0.1, 0.9, 0.0, 0.0], scale=0, num=2)
    np.testing.assert_array_equal(a, b)


def test_a_table_of_the_wrong_width_is_a_usage_error(embedding_run, tmp_path):
    wrong = tmp_path / f"wrong{table_suffix(embedding_run)}"
    write_table(wrong, torch.zeros(1, 5), ["x.png"])
    run_infd("sample", str(embedding_run / "out" / "checkpoint"), "--num", "1", "--out", str(tmp_path / "s"),
             "--set", f"config.sampling.embeddings={wrong}", expect=2)  # fmt: skip
