"""Checkpoints: safetensors round trips, atomic writes, refusal of pickles."""

from __future__ import annotations

import pickle
import uuid

import pytest
import torch

import infd_core.checkpoints as checkpoints
from infd_core.checkpoints import (
    load_checkpoint,
    optimizer_state,
    restore_optimizer,
    save_checkpoint,
)
from infd_core.errors import CheckpointError, CheckpointNotFoundError, OutputError


def _state(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(3, 4, generator=g), "b": torch.arange(5, dtype=torch.int64)}


def test_round_trip_local(tmp_path):
    tied = torch.randn(2, 2)
    url = str(tmp_path / "ckpt")
    save_checkpoint(
        url, {"pipeline": "x", "n": 1}, {"model": {**_state(), "t1": tied, "t2": tied}}, {"step": 4}
    )
    ckpt = load_checkpoint(url)
    assert ckpt.config == {"pipeline": "x", "n": 1} and ckpt.meta == {"step": 4}
    for key, value in _state().items():
        assert torch.equal(ckpt.state("model")[key], value)
    assert torch.equal(ckpt.state("model")["t1"], tied)
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["config.json", "model.safetensors"]
    with pytest.raises(CheckpointError, match=r"no ema\.safetensors"):
        ckpt.state("ema")


def test_round_trip_fsspec_memory():
    url = f"memory://ckpt-{uuid.uuid4().hex}"
    save_checkpoint(url, {"a": 1}, {"model": _state(1), "ema": _state(2)})
    ckpt = load_checkpoint(url)
    assert torch.equal(ckpt.state("ema")["w"], _state(2)["w"])
    assert set(ckpt.tensors) == {"model", "ema"}


def test_failed_overwrite_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    url = str(tmp_path / "ckpt")
    save_checkpoint(url, {"v": 1}, {"model": _state(1)})
    calls = []

    def failing_write(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        with open(path, "wb") as handle:
            handle.write(data)

    monkeypatch.setattr(checkpoints, "write_file_synced", failing_write)
    with pytest.raises(OutputError, match="No space left"):
        save_checkpoint(url, {"v": 2}, {"model": _state(2)})
    ckpt = load_checkpoint(url)
    assert ckpt.config == {"v": 1} and torch.equal(ckpt.state("model")["w"], _state(1)["w"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temporary folder left


def test_missing_folder(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="checkpoint folder not found"):
        load_checkpoint(str(tmp_path / "nope"))


def test_folder_with_a_torch_pickle_is_refused(tmp_path):
    folder = tmp_path / "legacy"
    folder.mkdir()
    torch.save({"w": torch.zeros(2)}, folder / "model.pt")
    with pytest.raises(CheckpointError, match=r"model\.pt.*never unpickles"):
        load_checkpoint(str(folder))


class _Exploding:
    def __reduce__(self):
        return (pytest.fail, ("a pickle was loaded",))


@pytest.mark.parametrize("writer", ["pickle", "torch"])
def test_pickle_disguised_as_safetensors_is_never_loaded(tmp_path, writer):
    url = str(tmp_path / "ckpt")
    save_checkpoint(url, {}, {"model": _state()})
    target = tmp_path / "ckpt" / "model.safetensors"
    if writer == "pickle":
        target.write_bytes(pickle.dumps(_Exploding(), protocol=4))
        kind = "a Python pickle"
    else:
        torch.save({"x": _Exploding()}, target)
        kind = "zip archive"
    with pytest.raises(CheckpointError, match=f"cannot be read as safetensors.*{kind}"):
        load_checkpoint(url)


def test_newer_format_is_refused(tmp_path):
    url = str(tmp_path / "ckpt")
    save_checkpoint(url, {}, {"model": _state()})
    path = tmp_path / "ckpt" / "config.json"
    path.write_text(path.read_text().replace('"format_version": 1', '"format_version": 99'))
    with pytest.raises(CheckpointError, match="newer"):
        load_checkpoint(url)


def test_non_tensor_state_is_rejected(tmp_path):
    with pytest.raises(CheckpointError, match="not a tensor"):
        save_checkpoint(str(tmp_path / "c"), {}, {"model": {"w": [1, 2]}})


def test_optimizer_state_round_trip_gives_identical_training(tmp_path):
    def make():
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 2)
        return model, torch.optim.AdamW(model.parameters(), lr=0.05)

    def steps(model, opt, n, offset):
        for i in range(offset, offset + n):
            x = torch.full((4, 3), float(i))
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()

    reference, ref_opt = make()
    steps(reference, ref_opt, 6, 0)

    model, opt = make()
    steps(model, opt, 3, 0)
    tensors, tree = optimizer_state(opt, "optimizer")
    save_checkpoint(
        str(tmp_path / "c"), {}, {"model": model.state_dict(), "optimizer": tensors}, {"optimizer": tree}
    )
    ckpt = load_checkpoint(str(tmp_path / "c"))
    resumed, resumed_opt = make()
    resumed.load_state_dict(ckpt.state("model"))
    assert restore_optimizer(ckpt, "optimizer", resumed_opt)
    steps(resumed, resumed_opt, 3, 3)
    for a, b in zip(reference.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)


def test_restore_optimizer_without_state_or_structure(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    tensors, _ = optimizer_state(opt, "optimizer")
    save_checkpoint(str(tmp_path / "old"), {}, {"model": model.state_dict()}, {})
    assert not restore_optimizer(load_checkpoint(str(tmp_path / "old")), "optimizer", opt)
    save_checkpoint(str(tmp_path / "broken"), {}, {"model": model.state_dict(), "optimizer": tensors}, {})
    with pytest.raises(CheckpointError, match="optimizer tensors without their structure"):
        restore_optimizer(load_checkpoint(str(tmp_path / "broken")), "optimizer", opt)
