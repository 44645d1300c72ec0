"""Bad input to ∞-Brush gives clear infd errors (exit status 2) before anything is written."""

from __future__ import annotations

import pytest
import torch
from brush_runs import TINY_MODEL, run_infd, write_config

from infd_core.errors import UsageError
from infd_infbrush.conditioning import PatchEncoder, load_encoder, save_encoder
from infd_infbrush.errors import EncoderError, GuidanceError
from infd_infbrush.sampling import check_guidance_scale


def test_condition_vector_of_the_wrong_dimension(trained, tmp_path, capsys):
    out = tmp_path / "o.ome.zarr"
    checkpoint = str(trained / "out" / "checkpoint")
    run_infd("sample", checkpoint, "--out", str(out), "--set", "config.sampling.vector=[1, 0, 0]", expect=2)
    assert (
        "sampling.vector has 3 entries but the model is conditioned on vectors of length 2"
        in capsys.readouterr().err
    )
    run_infd("sample", checkpoint, "--out", str(out), "--set", "config.sampling.classes=[2]", expect=2)
    assert not out.exists()
    # a model config whose vector length does not match the data's classes
    config = write_config(
        tmp_path / "run.yaml", tmp_path / "x", model={**TINY_MODEL, "condition": {"dim": 3}}
    )
    run_infd("train", str(config), expect=2)
    assert "model.condition.dim (3) must equal" in capsys.readouterr().err


def test_negative_guidance_scale(trained, tmp_path, capsys):
    run_infd(
        "sample", str(trained / "out" / "checkpoint"), "--out", str(tmp_path / "o.ome.zarr"),
        "--set", "config.sampling.guidance_scale=-1", expect=2,
    )  # fmt: skip
    assert "guidance_scale" in capsys.readouterr().err
    with pytest.raises(GuidanceError, match=">= 0"):
        check_guidance_scale(-0.5)
    assert issubclass(GuidanceError, UsageError)


def test_missing_or_unusable_encoder(tmp_path, capsys):
    patches = {"kind": "patches", "patch_size": 4, "reference_resolution": 8, "encoder_width": 16}
    missing = {**patches, "encoder": str(tmp_path / "nowhere.safetensors")}
    config = write_config(tmp_path / "run.yaml", tmp_path / "out", model={**TINY_MODEL, "condition": missing})
    run_infd("train", str(config), expect=2)
    assert "nowhere.safetensors does not exist" in capsys.readouterr().err
    encoder = PatchEncoder(3, 4, 16)
    with pytest.raises(EncoderError, match="only local safetensors"):
        load_encoder(encoder, "s3://bucket/encoder.safetensors")
    (tmp_path / "encoder.pt").write_bytes(b"not a pickle we would load")
    with pytest.raises(EncoderError, match=r"not a \.safetensors file"):
        load_encoder(encoder, str(tmp_path / "encoder.pt"))
    save_encoder(PatchEncoder(3, 4, 8), tmp_path / "narrow.safetensors")
    with pytest.raises(EncoderError, match="does not fit"):
        load_encoder(encoder, str(tmp_path / "narrow.safetensors"))
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    save_encoder(PatchEncoder(3, 4, 16), tmp_path / "good.safetensors")
    load_encoder(encoder, str(tmp_path / "good.safetensors"))
    assert not any(p.requires_grad for p in encoder.parameters())
    assert any(not torch.equal(before[k], v) for k, v in encoder.state_dict().items())


def test_binary_attribute_needs_two_classes(tmp_path):
    data = {
        "resolution": 16,
        "subsampling": 2,
        "classes": ["rocket", "coffee", "retina"],
        "encoding": "binary",
    }
    config = write_config(tmp_path / "run.yaml", tmp_path / "out", data=data)
    run_infd("train", str(config), expect=2)
