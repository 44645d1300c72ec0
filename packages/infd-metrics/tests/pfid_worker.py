"""Computes patch-FID from a large OME-Zarr store in a fresh process and reports its memory as JSON.

python pfid_worker.py STORE EXTRACTOR  →  {"value", "rss_growth_mb", "traced_peak_mb", ...}
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import tracemalloc

import torch

from infd_metrics import RandomFeaturesConfig, load_random_extractor, patch_fid


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak so far (KiB on Linux)


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


class RssSampler(threading.Thread):
    """Samples the current RSS every few milliseconds; ``peak`` is the largest value seen."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = _current_rss_mb()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.002):
            self.peak = max(self.peak, _current_rss_mb())


def main() -> None:
    url, extractor_path = sys.argv[1], sys.argv[2]
    extractor = load_random_extractor(RandomFeaturesConfig(checkpoint=extractor_path), "cpu")
    fake = torch.rand(24, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    patch_fid(url, fake, extractor, patch_size=64, crops_per_image=4, seed=99)  # warm up imports/codecs
    baseline_peak, baseline_current = _peak_rss_mb(), _current_rss_mb()
    sampler = RssSampler()
    sampler.start()
    tracemalloc.start()
    events = []
    values = [
        patch_fid(url, fake, extractor, patch_size=64, crops_per_image=48, seed=1, progress=events.append),
        patch_fid(url, fake, extractor, patch_size=64, resolution=4096, crops_per_image=24, seed=2),
    ]
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    sampler.done.set()
    sampler.join()
    report = {
        "values": values,
        "rss_growth_mb": sampler.peak - baseline_current,  # sampled current RSS
        "peak_rss_growth_mb": _peak_rss_mb() - baseline_peak,  # kernel's peak (0 if below the import peak)
        "traced_peak_mb": traced_peak / 2**20,
        "progress_tasks": sorted({event.task for event in events}),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
