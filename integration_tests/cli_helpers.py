"""Run the installed ``infd`` command from tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def infd(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the installed ``infd`` console script."""
    result = subprocess.run([str(BIN / "infd"), *args], capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"infd {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def plugins_json() -> dict:
    return json.loads(infd("plugins", "--json", check=True).stdout)
