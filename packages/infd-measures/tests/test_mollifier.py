"""The mollifier T (∞-Diff eq. 8) on grids and points, and its Wiener inverse (§3.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from measures_testutils import make_generator

from infd_measures import GaussianMollifier, ParameterError, grid_coordinates


def _smooth_image(n: int = 32) -> torch.Tensor:
    yy, xx = torch.meshgrid((torch.arange(n) + 0.5) / n, (torch.arange(n) + 0.5) / n, indexing="ij")
    bump = torch.exp(-((xx - 0.4) ** 2 + (yy - 0.6) ** 2) / 0.05)
    return (torch.sin(2 * math.pi * xx) * torch.cos(4 * math.pi * yy) + bump).double()


@pytest.mark.parametrize("boundary", ["reflect", "periodic"])
@pytest.mark.parametrize("variance", [0.3, 1.0, 7.0])
def test_separable_and_fft_agree(boundary: str, variance: float) -> None:
    for ndim, shape in ((2, (2, 3, 12, 9)), (1, (4, 11))):
        m = GaussianMollifier(variance, boundary=boundary, ndim=ndim)
        x = torch.randn(shape, generator=make_generator(), dtype=torch.float64)
        torch.testing.assert_close(m.apply(x), m.apply(x, method="fft"), rtol=0, atol=1e-12)
        ones = torch.ones(shape, dtype=torch.float64)
        torch.testing.assert_close(m.apply(ones), ones, rtol=0, atol=1e-12)  # T 1 = 1
    t = GaussianMollifier(variance, boundary=boundary).matrix((5, 4))
    torch.testing.assert_close(t, t.T, rtol=0, atol=1e-14)  # T = T*


@pytest.mark.parametrize("boundary", ["reflect", "periodic"])
def test_mollify_then_sample_equals_mollify_at_coordinates(boundary: str) -> None:
    m = GaussianMollifier(1.0, boundary=boundary)
    x = torch.randn(2, 3, 10, 14, generator=make_generator(1), dtype=torch.float64)
    coords = grid_coordinates((10, 14), dtype=torch.float64)
    subset = torch.randperm(140, generator=make_generator(2))[:35]  # a sparse subset of pixels
    grid_then_sample = m.apply(x).flatten(-2)[..., subset].transpose(-1, -2)
    torch.testing.assert_close(m.apply_at(x, coords[subset]), grid_then_sample, rtol=0, atol=1e-12)


def _dense_reference(x: np.ndarray, point: np.ndarray, var: float, cut: float, boundary: str) -> float:
    """T x at one point: Σ over all pixel copies (mirror or periodic) of normalised Gaussian weights."""
    total = 0.0
    weights_axes = []
    for axis, n in enumerate(x.shape):
        u = point[axis] * n - 0.5
        js = np.arange(-3 * n, 4 * n)
        delta = u - js
        w = np.where(np.abs(delta) <= cut, np.exp(-(delta**2) / (2 * var)), 0.0)
        w /= w.sum()
        if boundary == "periodic":
            src = np.mod(js, n)
        else:
            folded = np.mod(js, 2 * n)
            src = np.where(folded >= n, 2 * n - 1 - folded, folded)
        acc = np.zeros(n)
        np.add.at(acc, src, w)
        weights_axes.append(acc)
    total = weights_axes[0] @ x @ weights_axes[1]
    return float(total)


@pytest.mark.parametrize("boundary", ["reflect", "periodic"])
def test_apply_at_arbitrary_points_matches_dense_sum(boundary: str) -> None:
    m = GaussianMollifier(2.5, boundary=boundary)
    x = torch.randn(1, 1, 9, 7, generator=make_generator(3), dtype=torch.float64)
    pts = torch.rand(25, 2, generator=make_generator(4), dtype=torch.float64)
    ours = m.apply_at(x, pts)[0, :, 0]
    cut = 4.0 * math.sqrt(2.5)
    ref = [_dense_reference(x[0, 0].numpy(), p, 2.5, cut, boundary) for p in pts.numpy()]
    np.testing.assert_allclose(ours.numpy(), ref, rtol=0, atol=1e-12)


def test_periodic_mollifier_matches_the_continuous_gaussian_kernel_of_eq_8() -> None:
    # T cos(2πk·c) = exp(-2π² v_dom |k|²) cos(2πk·c) for the Gaussian of variance v_dom (= 2l in eq. 8);
    # variance 1 px² at reference resolution 32 is the same operator at 32 and 64 pixels (tolerance 1e-6)
    k = torch.tensor([3.0, 2.0], dtype=torch.float64)
    for n in (32, 64):
        m = GaussianMollifier(1.0, reference_resolution=32, boundary="periodic", truncate=8.0)
        c = grid_coordinates((n, n), dtype=torch.float64)
        f = torch.cos(2 * math.pi * (c @ k)).reshape(n, n)
        v_dom = 1.0 / 32**2
        expected = math.exp(-2 * math.pi**2 * v_dom * float(k @ k)) * f
        torch.testing.assert_close(m.apply(f), expected, rtol=0, atol=1e-6)
        assert m.pixel_variance(n) == pytest.approx((n / 32) ** 2)


def test_wiener_inverse_recovers_a_smooth_image() -> None:
    m = GaussianMollifier(1.0)
    image = _smooth_image()
    blurred = m.apply(image)
    rel = lambda a: float((a - image).norm() / image.norm())  # noqa: E731
    assert rel(m.wiener_inverse(blurred, epsilon=1e-3)) < 1e-4  # noiseless: relative L2 error < 1e-4
    noisy = blurred + 1e-4 * torch.randn(blurred.shape, generator=make_generator(5), dtype=torch.float64)
    wiener, exact = rel(m.wiener_inverse(noisy, epsilon=1e-2)), rel(m.wiener_inverse(noisy, epsilon=0.0))
    assert wiener < 1e-2
    assert wiener < exact / 5


def test_bad_parameters_raise() -> None:
    with pytest.raises(ParameterError, match="mollifier variance must be > 0"):
        GaussianMollifier(-1.0)
    with pytest.raises(ParameterError, match="boundary must be"):
        GaussianMollifier(1.0, boundary="zero")  # type: ignore[arg-type]
    m = GaussianMollifier(1.0)
    with pytest.raises(ParameterError, match="epsilon must be >= 0"):
        m.wiener_inverse(torch.zeros(4, 4), epsilon=-1.0)
    with pytest.raises(ParameterError, match=r"2 values per point"):
        m.apply_at(torch.zeros(1, 4, 4), torch.zeros(5, 3))
    with pytest.raises(ParameterError, match=r"shape \(\.\.\., M, d\)"):
        m.apply_at(torch.zeros(1, 4, 4), torch.zeros(5))


def test_auto_picks_the_fft_for_wide_kernels_only() -> None:
    """``auto`` is one of the two (equal) methods: the separable sum for narrow kernels, the FFT for a
    kernel 256× wider than at the reference resolution (2049 taps)."""
    m = GaussianMollifier(1.0, reference_resolution=32)
    narrow = torch.randn(1, 2, 32, 32, generator=make_generator(), dtype=torch.float64)
    assert torch.equal(m.apply(narrow, method="auto"), m.apply(narrow))  # the same calls
    line = GaussianMollifier(1.0, reference_resolution=32, ndim=1)
    wide = torch.randn(2, 8192, generator=make_generator(), dtype=torch.float64)
    fft = line.apply(wide, method="fft")
    assert torch.equal(line.apply(wide, method="auto"), fft)
    torch.testing.assert_close(fft, line.apply(wide), rtol=0, atol=1e-12)


@pytest.mark.parametrize("boundary", ["reflect", "periodic"])
def test_the_streamed_filter_equals_the_whole_plane_filter(boundary):
    """T and its Wiener inverse band by band through a scratch array: the in-memory results, to the bit
    (the same 1-D transforms), with bands far smaller than a plane."""
    mollifier = GaussianMollifier(1.0, reference_resolution=16, boundary=boundary)
    x = torch.randn(2, 3, 70, 90, generator=torch.Generator().manual_seed(0))
    scratch: dict[str, np.ndarray] = {}

    def allocate(name, shape, chunks):
        return scratch.setdefault(name, np.zeros(shape, np.float64))

    for response, whole in [
        (lambda g: g, mollifier.apply(x, method="fft")),
        (mollifier.wiener_response(1e-3), mollifier.wiener_inverse(x, 1e-3)),
    ]:
        out = np.zeros(x.shape, np.float32)
        mollifier.filter_streamed(x.numpy(), out, response, allocate, 40_000)
        np.testing.assert_array_equal(out, whole.numpy())
    assert scratch["fourier-rows"].shape == (70, 91 if boundary == "reflect" else 46, 2)
