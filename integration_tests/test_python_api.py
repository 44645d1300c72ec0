"""The README's Python API snippet, run as it stands, and what the API promises beyond it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import fsspec
import numpy as np
import torch

from infd_core import load_pipeline
from infd_core.demos import shipped_checkpoint

README = Path(__file__).resolve().parent.parent / "README.md"
REPORT = """
import json
print("REPORT " + json.dumps({"images": [[list(i.shape), str(i.dtype)] for i in images], "paths": paths}))
"""


def readme_snippet() -> str:
    section = README.read_text().split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_snippet_runs_and_draws_progress(tmp_path):
    code = readme_snippet()
    assert code.count("\n") <= 6 and "load_pipeline(" in code  # the promise: a few lines
    done = subprocess.run(
        [sys.executable, "-c", code + REPORT], capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.split("REPORT ", 1)[1])
    assert report["images"] == [[[3, 128, 128], "torch.uint8"]] * 2
    assert report["paths"] == ["sample.ome.zarr", "sample.png"]
    assert (tmp_path / "sample.ome.zarr" / "zarr.json").is_file() and (tmp_path / "sample.png").is_file()
    assert re.search(r"sample 1-2: +100%.*50/50", done.stderr)  # tqdm's bar, on by default


def test_tensors_equal_the_stored_image_and_urls_load(tmp_path, capsys):
    from infd_io import read_region

    memory = "memory://infd-api-test/checkpoint"  # an fsspec URL, not a local folder
    fs = fsspec.filesystem("memory")
    for path in Path(shipped_checkpoint("infd_infd")).iterdir():
        fs.pipe(f"{memory}/{path.name}", path.read_bytes())
    pipe = load_pipeline(memory, device="cpu", progress=False)
    (tensor,) = pipe.sample(1, size=64, seed=3)
    paths = pipe.sample(1, size=64, seed=3, out=str(tmp_path / "s.ome.zarr"))
    assert np.array_equal(tensor.numpy(), read_region(paths[0], 0))  # the same seed, the same image
    (other,) = pipe.sample(1, size=64, seed=4)
    assert not torch.equal(tensor, other)
    assert capsys.readouterr().err == ""  # progress=False: no bars
