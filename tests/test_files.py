"""The file layer: JSON Lines errors name file and line, append-logs survive a torn last line, hashes are stable."""

import json

import pytest

from rmr1lib.errors import DataError, RowError
from rmr1lib.files import AppendLog, content_hash, iter_jsonl, read_jsonl


def test_iter_jsonl_numbers_lines_and_skips_blank_ones(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"a": 1}\n\n  \n[2]\n')
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (4, [2])]


def test_bad_lines_raise_or_are_handed_back(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"a": 1}\n{"a": \n3\n')
    with pytest.raises(RowError, match=r"r.jsonl, line 2: not valid JSON"):
        read_jsonl(path)
    seen = list(iter_jsonl(path, on_bad=lambda number, reason: ("bad", number, reason)))
    assert seen[1][0] == 2 and seen[1][1][:2] == ("bad", 2) and "not valid JSON" in seen[1][1][2]
    assert seen[2] == (3, 3)


def test_binary_files_folders_and_missing_files_are_named(tmp_path):
    binary = tmp_path / "weights.jsonl"
    binary.write_bytes(b'{"a": 1}\n\x00\x89\xffPNG\n')
    with pytest.raises(DataError, match=r"weights.jsonl, line 2: not UTF-8 text .*binary file"):
        read_jsonl(binary)
    with pytest.raises(DataError, match="is a folder, not a JSON Lines file"):
        read_jsonl(tmp_path)
    with pytest.raises(DataError, match="nope.jsonl: no such JSON Lines file"):
        read_jsonl(tmp_path / "nope.jsonl")


def test_append_log_cuts_a_torn_last_line_and_keeps_whole_records(tmp_path):
    log = AppendLog(tmp_path / "sub" / "log.jsonl")
    assert list(log.rows()) == [] and log.repair() == 0  # no file yet: nothing to do
    assert log.append([{"k": 1}, {"k": 2}]) == 2 and log.append([]) == 0
    with open(log.path, "a") as fh:  # a crash in the middle of the next write
        fh.write('{"k": 3, "te')
    reopened = AppendLog(log.path)
    assert [r for _, r in reopened.rows()] == [{"k": 1}, {"k": 2}]
    assert reopened.repaired_bytes == len('{"k": 3, "te')
    assert log.path.read_text().endswith("\n")
    reopened.append([{"k": 3}])
    assert [json.loads(line)["k"] for line in log.path.read_text().splitlines()] == [1, 2, 3]


def test_a_log_that_is_all_one_torn_line_becomes_empty(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"half')
    assert list(AppendLog(path).rows()) == [] and path.read_text() == ""


def test_content_hash_is_stable_and_order_free_for_keys():
    a = content_hash({"x": [1, "é"], "y": None})
    assert a == content_hash({"y": None, "x": [1, "é"]}) and len(a) == 16
    assert a != content_hash({"x": [1, "e"], "y": None})
    assert len(content_hash([1], length=None)) == 64


def test_model_fingerprint_reads_weights_not_trainer_arguments(tmp_path):
    from rmr1lib.files import model_fingerprint

    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text('{"hidden_size": 8}')
        (folder / "model.safetensors").write_bytes(b"weights" * 100)
        (folder / "training_args.bin").write_bytes(f"output_dir={folder}".encode())  # differs between the copies
    assert model_fingerprint(str(tmp_path / "a")) == model_fingerprint(str(tmp_path / "b"))
    (tmp_path / "b" / "model.safetensors").write_bytes(b"other" * 100)
    assert model_fingerprint(str(tmp_path / "a")) != model_fingerprint(str(tmp_path / "b"))
