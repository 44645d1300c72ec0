"""JSON-lines logs with a torn or damaged line."""

from __future__ import annotations

import logging

from infd_core.json_lines import read_json_lines


def test_torn_last_line_is_skipped_with_a_warning(tmp_path, caplog):
    log = tmp_path / "train_log.jsonl"
    log.write_text('{"step": 1, "loss": 0.5}\n\n{"step": 2, "loss": 0.4}\n{"step": 3, "lo')
    with caplog.at_level(logging.WARNING):
        assert read_json_lines(log) == [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.4}]
    assert "train_log.jsonl: ignoring 1 line(s) that are not JSON records: 4" in caplog.text


def test_lines_that_are_not_objects_are_skipped(tmp_path, caplog):
    log = tmp_path / "log.jsonl"
    log.write_text('[1, 2]\n{"step": 1}\n\xff\xfe\n7\n')
    with caplog.at_level(logging.WARNING):
        assert read_json_lines(log) == [{"step": 1}]
    assert "ignoring 3 line(s)" in caplog.text
    assert read_json_lines(tmp_path / "missing.jsonl") == []
