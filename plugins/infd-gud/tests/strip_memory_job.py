"""Run in a subprocess: stream a strip of the given width and print the peak RSS (KiB) as JSON."""

from __future__ import annotations

import json
import resource
import sys

from gud_helpers import build_pipeline


def main(output: str, width: int) -> None:
    pipeline = build_pipeline(output, basis={"name": "pixel"}, prior={"kind": "data"},
                              schedule={"name": "columnwise", "b": 0.5},
                              data={"resolution": 8, "fit_items": 32},
                              training={"steps": 0},
                              extension={"columns": 2, "steps_per_window": 1, "tile_size": 16})  # fmt: skip
    pipeline.train()  # fits basis and prior, builds the (untrained) network
    pipeline.extend(f"{output}/warmup.zarr", 32)  # allocator and import warm-up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    url = pipeline.extend(f"{output}/strip.zarr", width)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before": before, "after": after, "url": url}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
