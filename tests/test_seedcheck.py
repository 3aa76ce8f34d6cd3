"""python -m gancourse.seedcheck: every notebook assert recorded with its margin, none raising."""

import ast
import json

import numpy as np
import pytest
import torch

from gancourse import seedcheck


def run_rewritten(source: str, tmp_path, **names) -> list[dict]:
    """Execute ``source`` with its asserts rewritten; return what they recorded."""
    records = tmp_path / "records.jsonl"
    tree = seedcheck.AssertRewriter(source).visit(ast.parse(source))
    namespace = {seedcheck.AssertRewriter.RECORDER: seedcheck.Recorder(str(records)), **names}
    exec(compile(ast.fix_missing_locations(tree), "<cell>", "exec"), namespace)
    return [json.loads(line) for line in records.read_text().splitlines()]


def test_a_comparison_records_both_sides_and_its_margin(tmp_path):
    (record,) = run_rewritten("gap = 0.02\nassert gap < 0.1, 'too far'", tmp_path)
    (pair,) = record["pairs"]
    assert record["holds"] and record["source"] == "gap < 0.1" and record["where"] == "line 2"
    assert pair["measured"] == 0.02 and pair["threshold"] == 0.1
    assert pair["margin"] == pytest.approx(0.08) and pair["relative_margin"] == pytest.approx(0.8)


def test_a_failing_assert_is_recorded_and_the_cell_goes_on(tmp_path):
    records = run_rewritten("assert 3 > 5\nafter = True\nassert after", tmp_path)
    assert [r["holds"] for r in records] == [False, True]
    assert records[0]["pairs"][0]["margin"] == -2


def test_the_threshold_is_the_constant_side(tmp_path):
    (record,) = run_rewritten("ratio = 1.2\nassert 0.5 < ratio < 2", tmp_path)
    low, high = record["pairs"]
    assert (low["threshold_side"], low["threshold"], low["measured"]) == ("left", 0.5, 1.2)
    assert (high["threshold_side"], high["threshold"]) == ("right", 2)
    assert low["margin"] == pytest.approx(0.7) and high["margin"] == pytest.approx(0.8)


def test_conjunctions_arrays_and_tensors(tmp_path):
    source = (
        "assert a.max() < 1 and t.mean() > 0\n"
        "assert np.all(a < 2)\n"
        "assert a < np.array([1.0, 5.0])\n"
    )
    a, t = np.array([0.5, 0.25]), torch.tensor([1.0, 3.0])
    first, second, third, fourth = run_rewritten(source, tmp_path, a=a, t=t, np=np)
    assert first["where"] == "line 1, part 0" and first["pairs"][0]["margin"] == 0.5
    assert second["where"] == "line 1, part 1" and second["pairs"][0]["measured"] == 2.0
    assert third["holds"] and third["pairs"] == []  # a call: true or false only
    assert fourth["holds"] and fourth["pairs"][0]["margin"] == 0.5  # the worst element


def test_margins_table_lists_each_assert_over_the_seeds(tmp_path):
    records = []
    for seed, gap in ((0, 0.02), (1, 0.2)):
        (tmp_path / str(seed)).mkdir()
        for record in run_rewritten(f"gap = {gap}\nassert gap < 0.1", tmp_path / str(seed)):
            records.append({"notebook": "01_x.ipynb", "seed": seed, **record, "cell": 3})
    rows = seedcheck.summarise(records)
    table = seedcheck.margins_table(rows, [0, 1])
    assert len(rows) == 1 and rows[0]["failures"] == {1}
    assert "| 01 | 3 |" in table and "0.2 FAIL" in table and "| 1 |" in table


def test_the_table_shows_the_threshold_of_the_closest_seed(tmp_path):
    records = []
    for seed, (a, b) in enumerate(((0.5, 1.0), (0.8, 0.9), (0.1, 2.0))):
        (tmp_path / str(seed)).mkdir()
        source = f"a, b = {a}, {b}\nassert a < 0.9 * b"
        for record in run_rewritten(source, tmp_path / str(seed)):
            records.append({"notebook": "07_x.ipynb", "seed": seed, **record, "cell": 1})
    table = seedcheck.margins_table(seedcheck.summarise(records), [0, 1, 2])
    # seed 1 is the closest: 0.8 against 0.9 * 0.9 = 0.81, not the last seed's 1.8
    assert "| 0.81 | 0.01 |" in table


def test_seeds_parse_as_ranges_and_lists():
    assert seedcheck._parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert seedcheck._parse_seeds("0,3,7") == [0, 3, 7]
