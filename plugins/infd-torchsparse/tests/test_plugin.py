"""Registration through the entry-point group, without importing torch or torchsparse."""

from __future__ import annotations

import json
import subprocess
import sys

from infd_core.plugins import InfdPluginManager


def test_backend_is_registered_by_this_distribution() -> None:
    spec = InfdPluginManager().registry().get("sparse_backends", "torchsparse")
    assert spec.distribution == "infd-torchsparse"


def test_listing_imports_neither_torch_nor_torchsparse() -> None:
    code = (
        "import sys, json; from infd_core.plugins import InfdPluginManager; InfdPluginManager().registry(); "
        "names = ('torch', 'torchsparse', 'infd_torchsparse.hashing'); "
        "print(json.dumps([m for m in names if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
