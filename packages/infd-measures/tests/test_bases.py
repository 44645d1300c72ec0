"""GUD bases: orthogonality, PyWavelets' Haar, numpy's FFT, PCA fitting, priors and whitening."""

from __future__ import annotations

import numpy as np
import pytest
import pywt
import torch
from measures_testutils import make_generator

from infd_measures import ComponentPrior, GaussianProcess, ParameterError, StationaryKernel
from infd_measures.bases import FFTBasis, HaarBasis, PCABasis, PixelBasis


def _smooth_data(n: int = 600, shape: tuple[int, int] = (8, 8), channels: int = 3) -> torch.Tensor:
    gp = GaussianProcess(StationaryKernel("matern32", 1.0, 0.3))
    data = gp.sample_grid(shape, make_generator(7), channels=channels, batch_shape=(n,), dtype=torch.float64)
    return data + torch.linspace(-1, 1, channels, dtype=torch.float64).view(1, -1, 1, 1)  # non-zero mean


@pytest.mark.parametrize(
    "basis",
    [PixelBasis((4, 6)), FFTBasis((8, 8)), FFTBasis((5, 6)), FFTBasis((7, 3)), FFTBasis((1, 5)),
     HaarBasis((8, 8), 3), HaarBasis((8, 4), 2)],
    ids=repr,
)  # fmt: skip
def test_bases_are_orthogonal(basis) -> None:
    u = basis.matrix()
    eye = torch.eye(basis.size, dtype=torch.float64)
    assert (u @ u.T - eye).abs().max().item() < 1e-5  # U Uᵀ = I to 1e-5 (acceptance)
    x = torch.randn(2, 3, *basis.shape, generator=make_generator(), dtype=torch.float64)
    torch.testing.assert_close(basis.from_components(basis.to_components(x)), x, rtol=0, atol=1e-12)
    torch.testing.assert_close(basis.to_components(x), x.flatten(-2) @ u.T, rtol=0, atol=1e-12)


def test_fft_basis_reproduces_numpy_spectrum() -> None:
    shape = (6, 5)
    basis = FFTBasis(shape)
    x = np.random.default_rng(0).normal(size=shape)
    spectrum = np.fft.fft2(x, norm="ortho")
    ky, kx = np.meshgrid(np.fft.fftfreq(6, 1 / 6), np.fft.fftfreq(5, 1 / 5), indexing="ij")
    components = basis.to_components(torch.tensor(x)).numpy()
    # Parseval per |k| shell: Σ components² = Σ_k |X_k|² over all k of that frequency magnitude
    freq = basis.frequency().numpy()
    for f in np.unique(freq):
        shell = np.isclose(np.hypot(ky, kx), f)
        np.testing.assert_allclose(
            (components[np.isclose(freq, f)] ** 2).sum(), (np.abs(spectrum[shell]) ** 2).sum(), rtol=1e-10
        )
    assert components[0] == pytest.approx(spectrum[0, 0].real)  # DC first
    assert bool(np.all(np.diff(freq) >= 0))  # sorted by |k|
    assert basis.to_components(torch.tensor(x)).dtype == torch.float64  # real state


def test_haar_equals_pywavelets() -> None:
    levels, shape = 3, (16, 8)
    basis = HaarBasis(shape, levels)
    x = np.random.default_rng(1).normal(size=shape)
    coeffs = pywt.wavedec2(x, "haar", mode="periodization", level=levels)
    ours = basis.to_components(torch.tensor(x)).numpy()
    # our order: LL(N), then per level n = N..1: LH, HL, HH; pywt: cA, then (cH, cV, cD) with cH = HL, cV = LH
    expected = [coeffs[0]]
    for c_h, c_v, c_d in coeffs[1:]:
        expected += [c_v, c_h, c_d]
    offset = 0
    for band in expected:
        part = ours[offset : offset + band.size].reshape(band.shape)
        sign = 1.0 if np.abs(part - band).max() <= np.abs(part + band).max() else -1.0  # sign convention
        np.testing.assert_allclose(part, sign * band, atol=1e-12)
        offset += band.size
    assert offset == ours.size
    lev, n = basis.levels_of_components()
    assert n == levels
    assert lev[:4].tolist() == [0] * 4
    assert lev[-1].item() == levels - 1
    cols, ncols = basis.columns()
    assert ncols[-1].item() == shape[1] // 2
    assert cols[-1].item() == shape[1] // 2 - 1


def test_pca_fit_sorted_floored_orthogonal_and_whitening() -> None:
    data = _smooth_data()
    basis = PCABasis.fit(data, eigenvalue_floor=1e-4)
    u = basis.matrix()
    assert (u @ u.T - torch.eye(64, dtype=torch.float64)).abs().max().item() < 1e-5
    ev = basis.eigenvalues
    assert bool((ev[1:] <= ev[:-1]).all())
    assert ev.min().item() >= 1e-4 * ev.max().item() * (1 - 1e-12)
    # eigen-decomposition of the channel-pooled covariance, computed independently with numpy
    x = data.numpy() - data.numpy().mean(0)
    cov = np.mean([np.cov(x[:, c].reshape(len(x), -1), rowvar=False) for c in range(3)], axis=0)
    reference = np.sort(np.linalg.eigvalsh(cov))[::-1]
    np.testing.assert_allclose(ev.numpy()[:20], reference[:20], rtol=1e-8)
    prior = ComponentPrior.fit(basis, data, "data")
    z = prior.encode(data)
    pooled = z.pow(2).sum(0).div(len(data) - 1).mean(0)
    torch.testing.assert_close(pooled, torch.ones_like(pooled), rtol=1e-10, atol=0)  # unit variance
    torch.testing.assert_close(z.mean(0), torch.zeros_like(z[0]), rtol=0, atol=1e-10)
    torch.testing.assert_close(prior.decode(z), data, rtol=0, atol=1e-10)
    torch.testing.assert_close(
        prior.state_log_variance(), torch.zeros(64, dtype=torch.float64), rtol=0, atol=1e-10
    )


@pytest.mark.parametrize("basis", [FFTBasis((8, 8)), HaarBasis((8, 8), 2), PixelBasis((8, 8))], ids=repr)
def test_per_channel_whitening_gives_unit_variance(basis) -> None:
    data = _smooth_data(n=300)
    z = ComponentPrior.fit(basis, data, "data", per_channel=True).encode(data)
    var = z.pow(2).sum(0) / (len(data) - 1)
    torch.testing.assert_close(var, torch.ones_like(var), rtol=1e-10, atol=0)
    iso = ComponentPrior.fit(basis, data, "isotropic")
    torch.testing.assert_close(iso.scale, torch.ones_like(iso.scale))
    sample = iso.sample(4, make_generator(1), dtype=torch.float64)
    assert sample.shape == (4, 3, 8, 8)


def test_pca_rejects_bad_data() -> None:
    data = _smooth_data(n=10)
    bad = data.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ParameterError, match="NaN or inf"):
        PCABasis.fit(bad)
    bad[0, 0, 0, 0] = float("inf")
    with pytest.raises(ParameterError, match="NaN or inf"):
        PCABasis.fit(bad)
    with pytest.raises(ParameterError, match="shape"):
        PCABasis.fit(data[0, 0])
    with pytest.raises(ParameterError, match="eigenvalue_floor must be > 0"):
        PCABasis.fit(data, eigenvalue_floor=-1.0)


def test_basis_shape_errors() -> None:
    with pytest.raises(ParameterError, match="divisible by 8"):
        HaarBasis((12, 8), 3)
    with pytest.raises(ParameterError, match="spatial shape"):
        FFTBasis((4, 4)).to_components(torch.zeros(3, 5, 4))
    with pytest.raises(ParameterError, match="have no columns"):
        FFTBasis((4, 4)).columns()
