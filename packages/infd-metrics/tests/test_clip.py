"""A tiny randomly initialised open_clip model saved locally: loading, preprocessing, gradients, text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from metrics_helpers import TINY_CLIP, save_tiny_clip
from PIL import Image

from infd_core.errors import ConfigError
from infd_metrics import ClipConfig, ClipEncoder, load_clip


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny_clip.safetensors")


@pytest.fixture(scope="module")
def reference(clip_file: Path):
    """open_clip's own model and PIL preprocessing, with the tiny config registered under a name."""
    import open_clip

    config_dir = clip_file.parent / "configs"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "infd-test-tiny-clip.json").write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(config_dir)
    model, _, preprocess = open_clip.create_model_and_transforms(
        "infd-test-tiny-clip", pretrained=str(clip_file), device="cpu"
    )
    return model.eval(), preprocess, open_clip.get_tokenizer("infd-test-tiny-clip")


def test_image_features_match_open_clip_with_its_own_preprocessing(clip_file: Path, reference) -> None:
    model, preprocess, _ = reference
    encoder = load_clip(ClipConfig(checkpoint=str(clip_file), model_config=TINY_CLIP), "cpu")
    assert isinstance(encoder, ClipEncoder) and encoder.image_size == 32 and encoder.feature_dim == 16
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (3, 40, 52, 3), generator=generator).to(torch.uint8).numpy()
    with torch.no_grad():
        # same normalised input: the weights must give identical embeddings
        exact = torch.stack([preprocess(Image.fromarray(p)) for p in pixels])
        torch.testing.assert_close(encoder.model.encode_image(exact), model.encode_image(exact))
        # our torch resize + crop against open_clip's PIL pipeline (different rounding only)
        theirs = model.encode_image(exact, normalize=True)
        ours = encoder.encode_images(torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255.0)
    assert torch.allclose(ours.norm(dim=-1), torch.ones(3), atol=1e-5)
    cosine = (ours * theirs).sum(dim=-1)
    assert cosine.min() > 0.995


def test_text_features_match_open_clip(clip_file: Path, reference) -> None:
    model, _, tokenizer = reference
    encoder = load_clip(ClipConfig(checkpoint=str(clip_file), model_config=TINY_CLIP), "cpu")
    texts = ["a photograph of a cat", "a micrograph of tissue"]
    with torch.no_grad():
        ours = encoder.encode_texts(texts)
        theirs = model.encode_text(tokenizer(texts), normalize=True)
    torch.testing.assert_close(ours, theirs)


def test_image_encoding_is_differentiable(clip_file: Path) -> None:
    encoder = load_clip(ClipConfig(checkpoint=str(clip_file), model_config=TINY_CLIP), "cpu")
    images = torch.rand(2, 3, 48, 40, generator=torch.Generator().manual_seed(1), requires_grad=True)
    target = encoder.encode_texts(["a red square"]).detach()
    loss = -(encoder.encode_images(images) @ target.T).sum()
    loss.backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in encoder.parameters())


def test_torch_state_dict_with_weights_only_and_config_file(clip_file: Path, tmp_path: Path) -> None:
    bin_path = save_tiny_clip(tmp_path / "open_clip_pytorch_model.bin", fmt="torch")
    config_path = tmp_path / "open_clip_config.json"
    config_path.write_text(
        json.dumps({"model_cfg": TINY_CLIP, "preprocess_cfg": {"mean": [0.5] * 3, "std": [0.5] * 3}})
    )
    from_bin = load_clip(ClipConfig(checkpoint=str(bin_path), model_config=str(config_path)), "cpu")
    from_safetensors = load_clip(ClipConfig(checkpoint=str(clip_file), model_config=TINY_CLIP), "cpu")
    assert from_bin.mean.flatten().tolist() == [0.5] * 3
    x = torch.zeros(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(from_bin.model.encode_image(x), from_safetensors.model.encode_image(x))
    assert from_bin.weights_sha256 == from_safetensors.weights_sha256  # same weights, same cache keys


def test_missing_checkpoint_says_how_to_supply_weights(tmp_path: Path) -> None:
    for checkpoint in ["", str(tmp_path / "missing.safetensors")]:
        with pytest.raises(ConfigError, match="never downloaded") as caught:
            load_clip(ClipConfig(checkpoint=checkpoint, model_config=TINY_CLIP))
        assert "--clip-checkpoint" in str(caught.value)


def test_weights_of_another_architecture_are_a_config_error(clip_file: Path) -> None:
    wider = json.loads(json.dumps(TINY_CLIP))
    wider["embed_dim"] = 24
    with pytest.raises(ConfigError, match="do not fit"):
        load_clip(ClipConfig(checkpoint=str(clip_file), model_config=wider))
    with pytest.raises(ConfigError, match="unknown open_clip architecture"):
        load_clip(ClipConfig(model="no-such-model", checkpoint=str(clip_file)))
    with pytest.raises(ConfigError, match="schemas are not supported"):
        load_clip(ClipConfig(model="hf-hub:someone/model", checkpoint=str(clip_file)))
