"""Conditional sampling with the exact noise predictor of GP data, against sklearn GP regression."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel

from infd_funcdiff.sampling import Observations, sample_curves
from infd_measures import DiscreteSchedule, GaussianProcess, StationaryKernel

DATA = StationaryKernel("rbf", 1.0, 0.2)


class ExactNoisePredictor(torch.nn.Module):
    """E[ξ | x_t] = σ C (α² K + σ² C)⁻¹ x_t for data N(0, K) and noise N(0, C) (closed form)."""

    def __init__(self, schedule: DiscreteSchedule, noise: GaussianProcess) -> None:
        super().__init__()
        self.schedule, self.noise = schedule, noise
        self.dummy = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x, t, coords):
        points = coords[..., 0].to(torch.float64)
        k = DATA.matrix(points[:, None]) + 1e-8 * torch.eye(points.numel(), dtype=torch.float64)
        c = self.noise.covariance(points[:, None])
        steps = torch.round(t * self.schedule.num_steps).long()
        out = torch.empty_like(x)
        for step in steps.unique():
            rows = steps == step
            alpha, sigma = self.schedule.alpha(step), self.schedule.sigma(step)
            gain = sigma * c @ torch.linalg.inv(alpha**2 * k + sigma**2 * c)
            out[rows] = (gain @ x[rows]).to(x.dtype)
        return out


def _sample(free_steps: int):
    schedule = DiscreteSchedule.linear(1000, 1e-4, 0.02)
    noise = GaussianProcess(StationaryKernel("matern12", 1.0, 0.1), jitter=1e-8)
    model = ExactNoisePredictor(schedule, noise)
    query = torch.linspace(0, 1, 41, dtype=torch.float64)
    obs_x = query[4:37:4]  # 9 observations, spacing 0.1
    obs_y = torch.sin(6 * obs_x)
    coords, values = sample_curves(
        model,
        schedule,
        noise,
        query,
        400,
        seed=3,
        steps=200,
        observations=Observations(obs_x, obs_y, free_steps),
    )
    return obs_x.numpy(), obs_y.numpy(), coords.numpy(), values.numpy()


def test_conditional_mean_matches_gp_regression_and_hits_the_observations():
    obs_x, obs_y, coords, values = _sample(free_steps=0)
    gpr = GaussianProcessRegressor(ConstantKernel(1.0, "fixed") * RBF(0.2, "fixed"), alpha=1e-8)
    gpr.fit(obs_x[:, None], obs_y)
    mean, std = gpr.predict(coords[:, None], return_std=True)
    observed = np.isin(coords, obs_x)
    # hard conditioning: the last step writes the observations exactly
    np.testing.assert_allclose(values[:, observed], np.broadcast_to(obs_y, (400, 9)), atol=1e-9)
    error = np.abs(values.mean(0) - mean)
    # replacement conditioning is an approximation (it shrinks towards the prior mean between the
    # observations); measured max 0.23 (prior std 1), at the extrapolated end x = 1
    assert error.max() < 0.3, error.max()
    assert error[(coords > 0.1) & (coords < 0.9)].max() < 0.2
    assert std.max() < values.std(0).max() < 1.0


def test_soft_conditioning_does_not_pin_the_observations():
    obs_x, obs_y, coords, values = _sample(free_steps=150)
    observed = np.isin(coords, obs_x)
    assert np.abs(values[:, observed] - obs_y).max() > 1e-3
    assert np.isfinite(values).all()
