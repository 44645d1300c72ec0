"""Inception (clean-fid's TorchScript interface) and the random test extractor, loaded offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fake_inception import save_fake_inception

from infd_core.errors import ConfigError, UsageError
from infd_metrics import (
    InceptionConfig,
    RandomFeaturesConfig,
    load_inception,
    load_random_extractor,
    save_random_extractor,
)
from infd_metrics.resize import resize


def _images(seed: int, count: int, height: int, width: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, 3, height, width), generator=generator).float() / 255.0


def test_resize_matches_clean_fid_pil_bicubic_resizer() -> None:
    """clean-fid's "clean" resize: PIL bicubic on float pixels, per channel, clipped to [0, 255]."""
    from cleanfid.resize import make_resizer

    pil_resize = make_resizer("PIL", False, "bicubic", (299, 299))
    for height, width in [(64, 48), (400, 512)]:  # up- and downsampling
        image = _images(0, 1, height, width)
        ours = resize(image * 255.0, (299, 299)).clamp(0, 255)[0].permute(1, 2, 0).numpy()
        theirs = pil_resize((image[0] * 255.0).permute(1, 2, 0).numpy())
        assert np.abs(ours - theirs).mean() < 0.1 and np.abs(ours - theirs).max() < 2.0


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_inception_features_match_clean_fid_on_the_same_file(tmp_path: Path) -> None:
    """clean-fid's own wrapper (InceptionV3W, download off) and its resizer, fed the same local file."""
    from cleanfid.inception_torchscript import InceptionV3W
    from cleanfid.resize import make_resizer

    save_fake_inception(tmp_path / "inception-2015-12-05.pt")
    theirs_model = InceptionV3W(str(tmp_path), download=False, resize_inside=False).eval()
    pil_resize = make_resizer("PIL", False, "bicubic", (299, 299))
    images = _images(1, 3, 40, 56)
    resized = np.stack([pil_resize((im * 255.0).permute(1, 2, 0).numpy()) for im in images])
    with torch.no_grad():
        theirs = theirs_model(torch.from_numpy(resized).permute(0, 3, 1, 2).float())

    extractor = load_inception(InceptionConfig(checkpoint=str(tmp_path / "inception-2015-12-05.pt")), "cpu")
    with torch.no_grad():
        ours = extractor.features(images)
    assert ours.shape == (3, 2048) and extractor.feature_dim == 2048
    torch.testing.assert_close(ours, theirs, rtol=1e-3, atol=2e-3)
    assert len(extractor.weights_sha256) == 64


def test_inception_from_an_fsspec_url(tmp_path: Path) -> None:
    path = save_fake_inception(tmp_path / "inception.pt")
    extractor = load_inception(InceptionConfig(checkpoint=f"file://{path}"), "cpu")
    assert extractor.features(_images(2, 2, 32, 32)).shape == (2, 2048)


def test_missing_inception_weights_say_how_to_supply_them(tmp_path: Path) -> None:
    for checkpoint in ["", str(tmp_path / "nowhere.pt")]:
        with pytest.raises(ConfigError, match=r"inception-2015-12-05\.pt") as caught:
            load_inception(InceptionConfig(checkpoint=checkpoint))
        assert "never downloads" in str(caught.value) and "--inception" in str(caught.value)


def test_a_file_that_is_not_torchscript_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bogus.pt"
    path.write_bytes(b"not a model at all")
    with pytest.raises(ConfigError, match="not a TorchScript file"):
        load_inception(InceptionConfig(checkpoint=str(path)))


def test_random_extractor_round_trips_and_is_deterministic(tmp_path: Path) -> None:
    save_random_extractor(tmp_path / "a.safetensors", seed=3, feature_dim=12)
    save_random_extractor(tmp_path / "b.safetensors", seed=3, feature_dim=12)
    first = load_random_extractor(RandomFeaturesConfig(checkpoint=str(tmp_path / "a.safetensors")), "cpu")
    second = load_random_extractor(RandomFeaturesConfig(checkpoint=str(tmp_path / "b.safetensors")), "cpu")
    images = _images(4, 5, 24, 40)
    torch.testing.assert_close(first.features(images), second.features(images), rtol=0, atol=0)
    assert first.features(images).shape == (5, 12)
    assert first.weights_sha256 == second.weights_sha256


def test_pickled_weights_are_never_unpickled(tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self):  # would run on unpickling
            return (exec, ("raise SystemExit('unpickled!')",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": Boom()}, handle, pickle_protocol=2)
    from infd_metrics.weights import load_state_dict, read_weight_file

    weights = read_weight_file(str(path), "test", "")
    with pytest.raises(ConfigError, match="weights_only"):
        load_state_dict(weights, "test")


def test_extractors_reject_bad_image_batches(tmp_path: Path) -> None:
    save_random_extractor(tmp_path / "r.safetensors")
    extractor = load_random_extractor(RandomFeaturesConfig(checkpoint=str(tmp_path / "r.safetensors")), "cpu")
    with pytest.raises(UsageError, match=r"\(B, 3, H, W\)"):
        extractor.features(torch.zeros(2, 4, 8, 8))
    with pytest.raises(UsageError, match="floating point"):
        extractor.features(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
