"""A 32768 × 32768 × 3 uint8 image (3.2 GB) written tile by tile stays far below 2 GB of memory.

The store is zstd-compressed (about 1 GB on disk with its pyramid; 4.3 GB uncompressed), so the test
fits on a CI disk; it checks the free space first and says how much it needs.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from io_helpers import pattern, reference_level

from infd_io.store_info import read_region, store_info

SIZE, TILE = 32768, 2048
RSS_LIMIT_MB = 2048
DISK_NEEDED_GB = 2.0


@pytest.mark.slow
def test_gigapixel_write_has_bounded_memory_and_reads_back_at_every_level(tmp_path: Path) -> None:
    url = str(tmp_path / "large.zarr")
    free_gb = shutil.disk_usage(tmp_path).free / 1e9
    if free_gb < DISK_NEEDED_GB:
        pytest.skip(f"needs {DISK_NEEDED_GB} GB of free disk under {tmp_path}, found {free_gb:.1f} GB")
    try:
        run = subprocess.run(
            [sys.executable, str(Path(__file__).parent / "large_writer.py"), url, str(SIZE), str(TILE)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, run.stderr
        report = json.loads(run.stdout.strip().splitlines()[-1])
        print(f"32768^2 x 3 uint8: peak RSS {report['peak_rss_mb']:.0f} MB, {report['seconds']:.1f} s")
        assert report["finished"] and report["levels"] == 5
        assert report["peak_rss_mb"] < RSS_LIMIT_MB

        info = store_info(url)
        assert info.complete and info.levels[-1].shape == (3, 2048, 2048)
        rng = random.Random(0)
        for level in range(info.levels.__len__()):
            extent = SIZE >> level
            side = 128
            top, left = rng.randrange(0, extent - side), rng.randrange(0, extent - side)
            source = pattern((top << level, (top + side) << level), (left << level, (left + side) << level))
            expected = reference_level(source, level)
            got = read_region(url, level, (top, top + side), (left, left + side))
            np.testing.assert_array_equal(got, expected)
        corner = (TILE - 100, TILE + 100)  # straddles four tiles
        np.testing.assert_array_equal(read_region(url, 0, corner, corner), pattern(corner, corner))
    finally:
        shutil.rmtree(url, ignore_errors=True)  # 1 GB: do not leave it to pytest's tmp retention
