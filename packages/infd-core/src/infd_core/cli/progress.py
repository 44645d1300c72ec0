"""tqdm progress bars fed by :class:`~infd_core.events.ProgressEvent` callbacks."""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm

from infd_core.events import ProgressEvent


class TqdmProgress:
    """A progress callback drawing one bar per task (only on the main rank)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bars: dict[str, Any] = {}

    def __call__(self, event: ProgressEvent) -> None:
        if not self.enabled:
            return
        bar = self._bars.get(event.task)
        if bar is None or (bar.total is not None and event.step < bar.n):
            if bar is not None:
                bar.close()
            bar = tqdm(total=event.total, desc=event.task, unit="step", dynamic_ncols=True, leave=True)
            self._bars[event.task] = bar
        if (
            event.total is not None and bar.total != event.total
        ):  # a total learnt on the way (an ETA from now)
            bar.total = event.total
        bar.update(max(event.step - bar.n, 0))
        if event.metrics:
            bar.set_postfix({k: _short(v) for k, v in event.metrics.items()}, refresh=False)
        if bar.total is not None and bar.n >= bar.total:
            bar.close()
            del self._bars[event.task]

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()


def _short(value: Any) -> Any:
    return f"{value:.4g}" if isinstance(value, float) else value
