"""Reading JSON-lines logs (e.g. ``train_log.jsonl``) that a killed run may have left with a torn line."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def read_json_lines(path: str | Path) -> list[dict[str, Any]]:
    """The JSON objects of a ``.jsonl`` file, one per line; a line that is not a JSON object (the torn
    last line of a run killed while appending, or a damaged line) is skipped with a warning."""
    path = Path(path)
    if not path.exists():
        return []
    records, skipped = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            records.append(record)
        else:
            skipped.append(number)
    if skipped:
        lines = ", ".join(map(str, skipped[:5])) + (" ..." if len(skipped) > 5 else "")
        logger.warning("%s: ignoring %d line(s) that are not JSON records: %s", path, len(skipped), lines)
    return records
