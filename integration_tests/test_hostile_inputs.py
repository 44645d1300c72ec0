"""Hostile and careless input to the installed ``infd``: each case is a one-line error with the right
exit status (2 usage, 1 failure), in bounded time under an address-space cap, leaving nothing behind.

Files: YAML alias bombs, deep nesting, non-finite numbers, tampered checkpoint headers, checkpoint parts
that are devices or do not match their header, an EMA of the wrong shape, a torn training log.
Remote: a server that accepts and never replies, a refused connection. ``infd render`` input errors.
Plugins: one that calls ``sys.exit`` at import, two that register one pipeline name.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import textwrap
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
import safetensors.torch
import torch
from hostile import assert_nothing_left, assert_one_line_error, run_capped, snapshot
from pydantic import BaseModel

from infd_core.config import run_config_model
from infd_core.plugins import get_registry

DEMO = resources.files("infd_inftydiff") / "demo" / "checkpoint"
#: A run must fail (or finish) within this many seconds: the CLI starts in a few, a hang takes minutes.
QUICK = 60.0
TINY = {
    "pipeline": "inftydiff",
    "seed": 0,
    "device": "cpu",
    "config": {
        "preset": "tiny",
        "data": {"source": "builtin", "resolution": 16, "subsampling": 4, "batch_size": 2, "num_items": 8},
        "optim": {"steps": 2, "log_every": 1},
        "sampling": {"steps": 2},
    },
    "sample": {"enabled": False},
}


def _write_config(path: Path, output: Path, **changes) -> Path:
    config = json.loads(json.dumps(TINY))
    config["output"] = str(output)
    config.update(changes)
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    """A copy of the tiny ∞-Diff checkpoint shipped for ``infd demo``, to tamper with."""
    return Path(shutil.copytree(str(DEMO), tmp_path / "ckpt"))


def _edit_header(folder: Path, **fields) -> None:
    header = json.loads((folder / "config.json").read_text())
    header.update(fields)
    (folder / "config.json").write_text(json.dumps(header))


def _sample(source: Path | str, tmp_path: Path, *extra: str, env: dict | None = None):
    return run_capped("sample", str(source), "--size", "8", "--out", str(tmp_path / "out.zarr"), *extra,
                      cwd=tmp_path, env=env)  # fmt: skip


# -- config files ------------------------------------------------------------------------------------
def _alias_bomb() -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    return "pipeline: inftydiff\n" + "\n".join(lines) + "\n"  # 9**9 = 387 million strings once expanded


DEEP = 100_000
CONFIG_CASES = {
    "alias-bomb.yaml": (_alias_bomb(), "aliases expand to more than"),
    "recursive.yaml": ("pipeline: inftydiff\nloop: &a [*a]\n", "refers to its own anchor"),
    "deep.yaml": ("pipeline: inftydiff\nx: " + "[" * DEEP + "]" * DEEP + "\n", "nested deeper than"),
    "deep.json": ('{"pipeline": "inftydiff", "x": ' + "[" * DEEP + "]" * DEEP + "}", "nested deeper than"),
    "deep.toml": ('pipeline = "inftydiff"\nx = ' + "[" * DEEP + "]" * DEEP + "\n", "nested deeper than"),
}


@pytest.mark.parametrize("name", sorted(CONFIG_CASES))
def test_hostile_config_file_is_refused_quickly(tmp_path, name):
    text, message = CONFIG_CASES[name]
    assert len(_alias_bomb()) < 2400  # the 2.3 KB bomb of the issue
    (tmp_path / name).write_text(text)
    before = snapshot(tmp_path)
    result = run_capped("config", "show", str(tmp_path / name), cwd=tmp_path)
    assert_one_line_error(result, 2, name, message)
    assert result.seconds < QUICK
    assert_nothing_left(before, tmp_path)


def test_deeply_nested_override_is_refused(tmp_path):
    config = _write_config(tmp_path / "run.json", tmp_path / "run")
    before = snapshot(tmp_path)
    result = run_capped(
        "config", "show", str(config), "--set", "x=" + "[" * 50_000 + "]" * 50_000, cwd=tmp_path
    )
    assert_one_line_error(result, 2, "override 'x'", "nested deeper than")
    assert_nothing_left(before, tmp_path)


def test_infinite_learning_rate_in_a_file_is_refused_before_training(tmp_path):
    """``lr: .inf`` was accepted and failed at the first training step."""
    data = json.loads(json.dumps(TINY))
    data["output"], data["config"]["optim"]["lr"] = str(tmp_path / "run"), float("inf")
    config = tmp_path / "run.yaml"
    config.write_text(json.dumps(data).replace("Infinity", ".inf"))  # YAML spells infinity .inf
    before = snapshot(tmp_path)
    result = run_capped("config", "show", str(config), cwd=tmp_path)
    assert_one_line_error(result, 2, "config.optim.lr", "finite number")
    assert_nothing_left(before, tmp_path)


@pytest.mark.parametrize("key", ["config.optim.weight_decay", "config.diffusion.wiener_epsilon"])
def test_infinite_setting_given_with_set_is_refused(tmp_path, key):
    config = _write_config(tmp_path / "run.json", tmp_path / "run")
    result = run_capped("config", "show", str(config), "--set", f"{key}=.inf", cwd=tmp_path)
    assert_one_line_error(result, 2, key, "finite number")


def _models_reachable(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    """``model`` and every pydantic model its fields refer to (through lists, unions, dicts...)."""
    seen: set[type] = set()
    stack: list[object] = [model]
    while stack:
        item = stack.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item in seen:
                continue
            seen.add(item)
            yield item
            stack.extend(field.annotation for field in item.model_fields.values())
        else:
            stack.extend(getattr(item, "__args__", ()))


def test_every_config_model_of_every_component_refuses_non_finite_numbers():
    """allow_inf_nan=False on every config model any installed component or pipeline reaches."""
    registry = get_registry()
    roots = [spec.config_model() for spec in registry.specs()]
    roots += [run_config_model(name, registry) for name in registry.names("pipelines")]
    lenient = {
        f"{model.__module__}.{model.__qualname__}"
        for root in roots
        for model in _models_reachable(root)
        if model.model_config.get("allow_inf_nan", True)
    }
    assert len(roots) > 30 and not lenient, sorted(lenient)


# -- checkpoints -------------------------------------------------------------------------------------
HEADER_CASES = [
    ("format_version", "2", "format_version must be a positive integer"),
    ("files", 5, "files must be a list"),
    ("config", [1, 2], "config must be a mapping"),
    ("meta", [1], "meta must be a mapping"),
]


@pytest.mark.parametrize(("field", "value", "message"), HEADER_CASES)
def test_tampered_checkpoint_header_in_checkpoint_info(checkpoint, tmp_path, field, value, message):
    _edit_header(checkpoint, **{field: value})
    result = run_capped("checkpoint", "info", str(checkpoint), cwd=tmp_path)
    assert_one_line_error(result, 1, "config.json", message)


def test_tampered_checkpoint_header_in_sample(checkpoint, tmp_path):
    _edit_header(checkpoint, format_version="2")
    before = snapshot(tmp_path)
    result = _sample(checkpoint, tmp_path)
    assert_one_line_error(result, 1, "config.json", "format_version must be a positive integer")
    assert_nothing_left(before, tmp_path)


def _rewrite_safetensors_header(path: Path, edit) -> None:
    data = path.read_bytes()
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    edit(header)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + length :])


def _first_tensor(header: dict) -> str:
    return sorted(k for k in header if k != "__metadata__")[0]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda h: h[_first_tensor(h)].pop("shape"), "must have dtype, shape and data_offsets"),
        (lambda h: h[_first_tensor(h)].update(shape=[10**6]), "needs 4000000 bytes"),
        (lambda h: h[_first_tensor(h)].update(dtype="X9"), "unknown dtype"),
    ],
)
def test_malformed_safetensors_header_in_checkpoint_info(checkpoint, tmp_path, edit, message):
    _rewrite_safetensors_header(checkpoint / "model.safetensors", edit)
    result = run_capped("checkpoint", "info", str(checkpoint), cwd=tmp_path)
    assert_one_line_error(result, 1, "model.safetensors", message)


def test_part_longer_than_its_header_is_refused(checkpoint, tmp_path):
    with (checkpoint / "ema.safetensors").open("ab") as handle:
        handle.write(b"\0" * 4096)
    result = run_capped("checkpoint", "info", str(checkpoint), cwd=tmp_path)
    assert_one_line_error(result, 1, "ema.safetensors", "but its header describes")


def _link_to_dev_zero(checkpoint: Path, part: str) -> None:
    (checkpoint / part).unlink()
    (checkpoint / part).symlink_to("/dev/zero")


def test_config_json_linked_to_dev_zero_is_refused(checkpoint, tmp_path):
    _link_to_dev_zero(checkpoint, "config.json")
    result = run_capped("checkpoint", "info", str(checkpoint), cwd=tmp_path)
    assert_one_line_error(result, 1, "config.json", "not a regular file")
    assert result.seconds < QUICK


def test_checkpoint_named_in_a_config_with_a_part_linked_to_dev_zero(checkpoint, tmp_path):
    """The run-config route read the part without bound (MemoryError after minutes)."""
    _link_to_dev_zero(checkpoint, "model.safetensors")
    sample = {"checkpoint": str(checkpoint), "size": [8, 8], "out": str(tmp_path / "out.zarr")}
    config = json.loads((checkpoint / "config.json").read_text())["config"]
    config.update(output=str(tmp_path / "run"), sample=sample)
    (tmp_path / "sample.json").write_text(json.dumps(config))
    before = snapshot(tmp_path)
    result = run_capped("sample", str(tmp_path / "sample.json"), cwd=tmp_path)
    assert_one_line_error(result, 1, "model.safetensors", "not a regular file")
    assert result.seconds < QUICK
    assert_nothing_left(before, tmp_path)


def test_ema_of_the_wrong_shape_is_refused_before_any_output(checkpoint, tmp_path):
    ema = safetensors.torch.load_file(checkpoint / "ema.safetensors")
    name = sorted(ema)[0]
    ema[name] = torch.zeros(3, 3)
    safetensors.torch.save_file(ema, checkpoint / "ema.safetensors")
    before = snapshot(tmp_path)
    result = _sample(checkpoint, tmp_path)
    assert_one_line_error(result, 2, "ema.safetensors does not fit", name, "[3, 3]")
    assert_nothing_left(before, tmp_path)


def test_torn_last_line_of_train_log_does_not_break_resume(checkpoint, tmp_path):
    config = json.loads((checkpoint / "config.json").read_text())["config"]
    step = json.loads((checkpoint / "config.json").read_text())["meta"]["step"]
    run = tmp_path / "run"
    config["output"], config["sample"] = str(run), {"enabled": False}
    config["config"]["data"].update(batch_size=2, num_items=8)
    config["config"]["optim"].update(steps=step, log_every=1)
    (tmp_path / "train.json").write_text(json.dumps(config))
    args = ["train", str(tmp_path / "train.json"), "--resume", str(checkpoint)]
    made = run_capped(*args, cwd=tmp_path)  # the training folder, as a run killed at `step` left it
    assert made.returncode == 0, made.stderr[-3000:]
    log = run / "train_log.jsonl"
    log.write_text(f'{{"step": {step - 1}, "loss": 0.5}}\n{{"step": {step}, "loss": 0.4}}\n{{"step": 3, "lo')
    result = run_capped(*args, "--set", f"config.optim.steps={step + 1}", cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "train_log.jsonl: ignoring 1 line" in result.stderr
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == [step - 1, step, step + 1]


# -- remote checkpoints ------------------------------------------------------------------------------
@pytest.fixture
def silent_server() -> Iterator[int]:
    """A local port that accepts connections and never replies."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in [*held, server]:
        connection.close()


def test_server_that_never_replies_times_out_naming_the_url(silent_server, tmp_path):
    url = f"http://127.0.0.1:{silent_server}/ckpt"
    before = snapshot(tmp_path)
    result = _sample(url, tmp_path, env={"INFD_REMOTE_TIMEOUT": "2"})
    assert_one_line_error(result, 1, url, "no reply within 2 s", "INFD_REMOTE_TIMEOUT")
    assert result.seconds < QUICK
    assert_nothing_left(before, tmp_path)


def test_refused_connection_is_not_reported_as_missing(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed below: nothing listens there
    url = f"http://127.0.0.1:{port}/ckpt"
    result = run_capped("checkpoint", "info", url, cwd=tmp_path, env={"INFD_REMOTE_TIMEOUT": "5"})
    assert_one_line_error(result, 1, url, "cannot read", "connect")
    assert "not found" not in result.last_line


# -- infd render -------------------------------------------------------------------------------------
RENDER_CASES = {
    "pickle": (["--features", "PICKLE"], "holds pickles"),
    "missing": (["--features", "MISSING"], "not found"),
    "not-object": (["--features", "FEATURES", "--config", "[1, 2]"], "must be a JSON object"),
}  # the other input errors are checked in infd-render's own tests (tests/test_cli_checks.py)


@pytest.mark.parametrize("case", sorted(RENDER_CASES))
def test_render_input_errors_are_one_line(tmp_path, case):
    files = {
        name: tmp_path / f"{name.lower()}.safetensors"
        for name in ("PICKLE", "MISSING", "FEATURES", "COMPLEX")
    }
    torch.save({"f": torch.zeros(4, 4, 4)}, files["PICKLE"])
    safetensors.torch.save_file({"f": torch.zeros(4, 4, 4)}, files["FEATURES"])
    safetensors.torch.save_file({"f": torch.zeros(4, 4, 4, dtype=torch.complex64)}, files["COMPLEX"])
    args, message = RENDER_CASES[case]
    args = [str(files.get(arg, arg)) for arg in args]
    before = snapshot(tmp_path)
    result = run_capped("render", *args, "--size", "8", "--out", str(tmp_path / "out.zarr"), cwd=tmp_path)
    assert_one_line_error(result, 2, message)
    assert_nothing_left(before, tmp_path)


# -- plugins -----------------------------------------------------------------------------------------
def _fake_plugin(site: Path, dist: str, module: str, source: str) -> None:
    """An installed-looking distribution (dist-info with an ``infd`` entry point) on ``site``."""
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[infd]\n{module} = {module}\n")


def _with_site(site: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH", "")]))}


def test_plugin_calling_sys_exit_at_import_is_reported(tmp_path):
    _fake_plugin(tmp_path / "site", "infd-exiting", "infd_exiting", "import sys\nsys.exit(7)\n")
    env = _with_site(tmp_path / "site")
    listing = run_capped("plugins", cwd=tmp_path, env=env)
    assert listing.returncode == 0 and "Traceback" not in listing.stderr, listing.stderr[-2000:]
    assert (
        "FAILED infd_exiting (infd-exiting): failed to import infd_exiting: SystemExit: 7" in listing.stdout
    )
    config = _write_config(tmp_path / "run.json", tmp_path / "run")
    shown = run_capped("config", "show", str(config), cwd=tmp_path, env=env)
    assert shown.returncode == 0 and json.loads(shown.stdout)["pipeline"] == "inftydiff"
    assert "plugin infd_exiting (infd-exiting) failed" in shown.stderr


TWIN = """
from infd_core import ComponentSpec, hookimpl

@hookimpl
def infd_pipelines():
    return [ComponentSpec(name="inftydiff", factory="infd_twin:nothing", config="infd_twin:nothing")]
"""


def test_two_plugins_with_one_pipeline_name_disable_only_that_name(tmp_path):
    _fake_plugin(tmp_path / "site", "infd-twin", "infd_twin", TWIN)
    env = _with_site(tmp_path / "site")
    listing = run_capped("plugins", "--json", cwd=tmp_path, env=env)
    assert listing.returncode == 0 and "Traceback" not in listing.stderr, listing.stderr[-2000:]
    failures = {f["name"]: f for f in json.loads(listing.stdout)["failures"]}
    assert "registered twice" in failures["infd_twin"]["error"] and "inftydiff" in failures
    config = _write_config(tmp_path / "run.json", tmp_path / "run")
    result = run_capped("config", "show", str(config), cwd=tmp_path, env=env)
    assert_one_line_error(
        result, 1, "pipelines 'inftydiff' is registered twice", "infd-twin", "infd-inftydiff"
    )
    other = tmp_path / "gud.json"
    other.write_text(json.dumps({"pipeline": "gud", "output": str(tmp_path / "gud")}))
    shown = run_capped("config", "show", str(other), cwd=tmp_path, env=env)  # other pipelines still work
    assert shown.returncode == 0 and json.loads(shown.stdout)["pipeline"] == "gud", shown.stderr[-2000:]
