"""Checks before work: estimates against the machine's memory and disk."""

from __future__ import annotations

import shutil

import pytest

from infd_core.errors import UsageError
from infd_core.preflight import (
    ResourceEstimate,
    available_memory,
    check_resources,
    format_bytes,
    free_disk,
)


def test_free_disk_measures_the_nearest_existing_folder(tmp_path):
    free, folder = free_disk(str(tmp_path / "not" / "yet" / "out.zarr"))
    assert folder == str(tmp_path)
    assert abs(free - shutil.disk_usage(tmp_path).free) < 2**30  # other writers may change it a little
    assert free_disk("s3://bucket/out.zarr") is None


def test_memory_is_read_from_the_machine():
    memory = available_memory("cpu")
    assert memory is not None and 2**20 < memory < 2**50


def test_estimates_beyond_the_machine_are_refused(tmp_path):
    memory, disk = available_memory("cpu"), free_disk(str(tmp_path))[0]
    fits = ResourceEstimate(2**20, 2**20, "a small image")
    check_resources(fits, str(tmp_path))  # no error
    with pytest.raises(UsageError, match=r"a big image needs about .* more than the memory .*--force"):
        check_resources(ResourceEstimate(memory * 4, 1, "a big image"), str(tmp_path))
    with pytest.raises(UsageError, match=r"more than the disk \(.* free under "):
        check_resources(ResourceEstimate(1, disk * 4, "a wide image"), str(tmp_path / "out.zarr"))
    check_resources(ResourceEstimate(memory * 4, disk * 4, "forced"), str(tmp_path), force=True)


def test_format_bytes():
    assert format_bytes(512) == "512 B"
    assert format_bytes(1.5 * 2**30) == "1.5 GiB"
    assert format_bytes(3 * 2**40) == "3.0 TiB"


def test_sizes_in_bytes_and_memory_budgets():
    from infd_core.preflight import AUTO_CPU_BUDGET, parse_bytes, resolve_memory_budget

    assert parse_bytes("512MiB") == 512 * 2**20 and parse_bytes("1.5 GiB") == 3 * 2**29
    assert parse_bytes("2GB") == 2 * 10**9 and parse_bytes(4096) == 4096
    for bad in ("lots", "-1", "0", "3 parsecs", True):
        with pytest.raises(UsageError):
            parse_bytes(bad)
    assert resolve_memory_budget("64MiB") == 2**26
    assert 2**28 <= resolve_memory_budget("auto") <= AUTO_CPU_BUDGET
