"""Tiles are written on a background thread behind the renderer: same result, errors surface."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from render_helpers import features, tiny_clif

from infd_core.errors import UsageError
from infd_render import ArraySink, TiledRenderer, render_whole

SIZE = (40, 52)


class RecordingSink(ArraySink):
    """An array sink that is slow, remembers which thread wrote, and can fail on one tile."""

    def __init__(self, fail_on: tuple[int, int] | None = None, delay: float = 0.0) -> None:
        super().__init__(SIZE, 3, np.float32, tile_size=16)
        self.fail_on, self.delay = fail_on, delay
        self.threads: set[str] = set()
        self.written: list[tuple[int, int]] = []

    def write(self, index, data):
        time.sleep(self.delay)
        if index == self.fail_on:
            raise OSError(f"disk full at tile {index}")
        self.threads.add(threading.current_thread().name)
        super().write(index, data)
        self.written.append(index)


@pytest.mark.parametrize("ahead", [0, 1, 3])
def test_written_behind_or_in_turn_equals_whole(ahead):
    renderer, feats = tiny_clif(), features()
    events = []
    sink = RecordingSink(delay=0.01)
    tiler = TiledRenderer(renderer, 16, write_ahead=ahead, progress=events.append)
    assert tiler.render_to_sink(sink, feats, SIZE) == len(sink.tiles()) == 12
    assert np.abs(sink.array - render_whole(renderer, feats, SIZE).numpy()).max() == 0
    assert [e.step for e in events] == list(range(1, 13)) and {e.total for e in events} == {12}
    on_caller = sink.threads == {threading.current_thread().name}
    assert on_caller == (ahead == 0)


def test_a_failed_write_is_raised_and_stops_rendering():
    sink = RecordingSink(fail_on=(0, 1))
    with pytest.raises(OSError, match=r"disk full at tile \(0, 1\)"):
        TiledRenderer(tiny_clif(), 16, write_ahead=1).render_to_sink(sink, features(), SIZE)
    assert (0, 1) not in sink.written
    assert len(sink.written) < 11  # rendering stopped soon after the failure instead of finishing


def test_a_render_error_waits_for_queued_writes():
    class Failing:
        receptive_field = 0

        def __init__(self):
            self.calls = 0

        def parameters(self):
            return iter(())

        def prepare_features(self, features):
            return features

        def render_window(self, features, coords, cells, borders):
            self.calls += 1
            if self.calls == 4:
                raise RuntimeError("out of memory")
            return coords.new_zeros(coords.shape[0], 3, *coords.shape[1:3])

    sink = RecordingSink(delay=0.05)
    with pytest.raises(RuntimeError, match="out of memory"):
        TiledRenderer(Failing(), 16, write_ahead=2).render_to_sink(sink, features(), SIZE)
    assert len(sink.written) == 3  # every tile rendered before the error was stored


def test_negative_write_ahead_refused():
    with pytest.raises(UsageError, match="write_ahead"):
        TiledRenderer(tiny_clif(), 16, write_ahead=-1)
