"""FID / patch-FID / crop-FID on tensors and folders against direct scipy computations, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from metrics_helpers import load_folder, write_images
from scipy import linalg

from infd_core.errors import UsageError
from infd_metrics import (
    RandomFeaturesConfig,
    crop_fid,
    dataset_statistics,
    fid,
    load_random_extractor,
    patch_fid,
    save_random_extractor,
)


@pytest.fixture(scope="module")
def extractor(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("extractor") / "random.safetensors"
    save_random_extractor(str(path), seed=0, feature_dim=8, input_size=32)
    return load_random_extractor(RandomFeaturesConfig(checkpoint=str(path)), "cpu")


def _images(seed: int, count: int, size: int = 32, channels: int = 3) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    base = torch.rand(count, channels, size // 8, size // 8, generator=generator)
    smooth = torch.nn.functional.interpolate(base, size=(size, size), mode="bilinear", align_corners=False)
    return (smooth + 0.05 * torch.rand(count, channels, size, size, generator=generator)).clamp(0, 1)


def _scipy_fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    mu_a, mu_b = features_a.mean(0), features_b.mean(0)
    sigma_a, sigma_b = np.cov(features_a, rowvar=False), np.cov(features_b, rowvar=False)
    root = np.real(linalg.sqrtm(sigma_a @ sigma_b))
    return float((mu_a - mu_b) @ (mu_a - mu_b) + np.trace(sigma_a + sigma_b - 2 * root))


def test_fid_matches_scipy_on_directly_extracted_features(extractor) -> None:
    real, fake = _images(0, 40), _images(1, 30) * 0.8
    with torch.no_grad():
        features_real = extractor.features(real).double().numpy()
        features_fake = extractor.features(fake).double().numpy()
    expected = _scipy_fid(features_real, features_fake)
    assert fid(real, fake, extractor, batch_size=7) == pytest.approx(expected, rel=1e-5)


def test_fid_of_a_set_with_itself_is_zero_and_fid_is_symmetric(extractor) -> None:
    real, fake = _images(2, 24), _images(3, 24)
    assert fid(real, real.clone(), extractor) == pytest.approx(0.0, abs=1e-6)
    assert fid(real, fake, extractor) == pytest.approx(fid(fake, real, extractor), rel=1e-8)


def test_folders_give_the_same_fid_as_their_decoded_tensors(extractor, tmp_path: Path) -> None:
    first = write_images(tmp_path / "a", 12, seed=0)
    second = write_images(tmp_path / "b", 10, seed=1)
    from_folders = fid(str(first), str(second), extractor)
    from_tensors = fid(load_folder(first), load_folder(second), extractor)
    assert from_folders == pytest.approx(from_tensors, rel=1e-9)
    assert fid(f"file://{first}", str(second), extractor) == pytest.approx(from_folders, rel=1e-12)


def test_grey_and_uint8_inputs_are_the_rgb_float_images(extractor) -> None:
    grey = _images(4, 10, channels=1)
    other = _images(5, 10)
    assert fid(grey, other, extractor) == pytest.approx(fid(grey.expand(-1, 3, -1, -1), other, extractor))
    as_bytes = (other * 255).round().to(torch.uint8)
    assert fid(grey, as_bytes, extractor) == pytest.approx(fid(grey, as_bytes.float() / 255, extractor))


def test_patch_fid_with_whole_image_crops_is_fid(extractor) -> None:
    real, fake = _images(6, 16), _images(7, 16)
    whole = patch_fid(real, fake, extractor, patch_size=32)
    assert whole == pytest.approx(fid(real, fake, extractor), rel=1e-9)


def test_patch_fid_at_a_lower_resolution_crops_the_downsampled_images(extractor) -> None:
    real, fake = _images(8, 12, size=64), _images(9, 12, size=64)
    value = patch_fid(real, fake, extractor, patch_size=32, resolution=32)

    def downsampled(images: torch.Tensor) -> torch.Tensor:  # PIL's bicubic, as the reference resize
        from PIL import Image

        out = []
        for image in images:
            channels = [
                np.asarray(Image.fromarray(c.numpy(), mode="F").resize((32, 32), Image.BICUBIC))
                for c in image
            ]
            out.append(np.stack(channels))
        return torch.from_numpy(np.stack(out)).clamp(0, 1)

    assert value == pytest.approx(fid(downsampled(real), downsampled(fake), extractor), rel=1e-3)


def test_patch_and_crop_fid_are_deterministic_per_seed(extractor) -> None:
    real, fake = _images(10, 12, size=48), _images(11, 12, size=48)
    options = {"patch_size": 16, "crops_per_image": 3}
    first = patch_fid(real, fake, extractor, seed=1, **options)
    assert patch_fid(real, fake, extractor, seed=1, batch_size=5, **options) == pytest.approx(first, rel=1e-5)
    assert patch_fid(real, fake, extractor, seed=2, **options) != pytest.approx(first, rel=1e-6)
    assert crop_fid(real, fake, extractor, seed=1, **options) == pytest.approx(first, rel=1e-9)
    assert patch_fid(real, real, extractor, seed=1, **options) == pytest.approx(0.0, abs=1e-6)


def test_saved_statistics_can_stand_for_a_data_set(extractor, tmp_path: Path) -> None:
    real, fake = _images(12, 20), _images(13, 20)
    path = tmp_path / "real.safetensors"
    dataset_statistics(real, extractor).save(str(path))
    assert fid(str(path), fake, extractor) == pytest.approx(fid(real, fake, extractor), rel=1e-12)
    other = tmp_path / "other.safetensors"
    save_random_extractor(str(other), seed=1, feature_dim=8)
    different = load_random_extractor(RandomFeaturesConfig(checkpoint=str(other)), "cpu")
    with pytest.raises(UsageError, match="computed with"):
        fid(str(path), fake, different)
    with pytest.raises(UsageError, match="sampling"):
        patch_fid(str(path), fake, extractor, patch_size=16)


def test_mixed_channel_counts_are_refused(extractor, tmp_path: Path) -> None:
    mixed = [*_images(14, 3), *_images(15, 3, channels=1)]
    with pytest.raises(UsageError, match="mixed channel counts"):
        fid(mixed, _images(16, 6), extractor)
    folder = write_images(tmp_path / "mixed", 4, seed=2)
    write_images(tmp_path / "grey", 2, seed=3, mode="L")
    for path in (tmp_path / "grey").iterdir():
        path.rename(folder / f"grey_{path.name}")
    with pytest.raises(UsageError, match=r"mixed channel counts.*--convert-rgb"):
        fid(str(folder), _images(17, 6), extractor)
    assert fid(str(folder), _images(17, 6), extractor, convert_rgb=True) > 0
    with pytest.raises(UsageError, match="1 or 3 channels"):
        fid(_images(18, 4, channels=4), _images(19, 4), extractor)


def test_too_few_images_bad_ranges_and_small_images_are_clear_errors(extractor) -> None:
    with pytest.raises(UsageError, match="at least 2 images"):
        fid(_images(20, 1), _images(21, 5), extractor)
    with pytest.raises(UsageError, match=r"\[0, 1\].*\(x \+ 1\) / 2"):
        fid(_images(22, 4) * 2 - 1, _images(23, 4), extractor)
    with pytest.raises(UsageError, match="too small"):
        patch_fid(_images(24, 4, size=16), _images(25, 4, size=16), extractor, patch_size=32)
    with pytest.raises(UsageError, match="must be a tensor"):
        fid(42, _images(26, 4), extractor)
