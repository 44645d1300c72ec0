"""The γ-conditioned U-Net: shapes, conditioning on the whole γ vector, pixel-space inputs and outputs."""

from __future__ import annotations

import torch
from gud_helpers import TINY_NETWORK

from infd_gud.config import NetworkSettings
from infd_gud.network import GammaUNet, StateSpaceModel
from infd_measures.bases.fft import FFTBasis


def _network() -> GammaUNet:
    torch.manual_seed(0)
    labels = torch.rand(64, 2)
    net = GammaUNet.from_config(
        NetworkSettings(**TINY_NETWORK), image_channels=3, shape=(8, 8), labels=labels
    )
    torch.nn.init.normal_(net.conv_out.weight, std=0.1)  # zero-initialised output: make it respond
    return net


def test_output_shape_and_gamma_vector_conditioning() -> None:
    net = _network()
    x = torch.randn(2, 3, 8, 8)
    gamma = torch.zeros(2, 64)
    out = net(x, gamma)
    assert out.shape == x.shape
    changed = gamma.clone()
    changed[:, 5] = 4.0  # one component's noising state
    assert not torch.allclose(net(x, changed), out)
    # batch elements are independent
    assert torch.allclose(net(x[:1], gamma[:1]), out[:1], atol=1e-5)


def test_state_space_model_maps_components_through_pixels() -> None:
    net = _network()
    basis = FFTBasis((8, 8))
    model = StateSpaceModel(net, basis)
    state = torch.randn(2, 3, 64)
    gamma = torch.randn(2, 64)
    out = model(state, gamma)
    assert out.shape == state.shape
    expected = basis.to_components(net(basis.from_components(state), gamma))
    assert torch.allclose(out, expected, atol=1e-6)
    images = torch.randn(2, 3, 8, 8)
    assert torch.allclose(model(images, gamma), net(images, gamma))
