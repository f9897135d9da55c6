"""The suite's order (tests/slow_first.py): each xdist worker's share starts with its part of
the longest tests, and the durations file it reads round-trips."""

from __future__ import annotations

from pathlib import Path

from . import slow_first


def test_each_share_starts_with_its_part_of_the_longest_tests_and_short_ones_keep_their_order() -> (
    None
):
    names = ["a", "b", "long1", "c", "long2", "d", "long3", "e"]
    costs = [0.0, 0.0, 20.0, 0.0, 9.0, 0.0, 15.0, 0.0]
    dealt = slow_first.deal(names, costs, workers=2)
    first, second = dealt[:4], dealt[4:]  # worksteal's two contiguous shares
    assert first == ["long1", "long2", "b", "d"]
    assert second == ["long3", "a", "c", "e"]
    assert sorted(dealt) == sorted(names)


def test_one_worker_runs_the_longest_first() -> None:
    assert slow_first.deal(["x", "y", "z"], [1.0, 3.0, 2.0], workers=1) == ["y", "z", "x"]


def test_a_test_the_file_does_not_name_counts_as_long_only_when_marked_slow() -> None:
    known = {"t::known": 7.5}
    assert slow_first.cost("t::known", slow=False, durations=known) == 7.5
    assert slow_first.cost("t::new", slow=True, durations=known) == slow_first.UNKNOWN_SLOW_SECS
    assert slow_first.cost("t::new", slow=False, durations=known) == 0.0


def test_recorded_durations_add_up_setup_call_and_teardown_and_leave_out_short_tests(
    tmp_path: Path,
) -> None:
    path = tmp_path / "durations.json"
    slow_first.record(path, [("t::a", 0.3), ("t::a", 2.0), ("t::a", 0.1), ("t::b", 0.2)])
    assert slow_first.load(path) == {"t::a": 2.4}
    assert slow_first.load(tmp_path / "absent.json") == {}


def test_every_test_the_durations_file_names_still_exists() -> None:
    """A renamed test would lose its place at the front: the file is re-recorded then."""
    tests = Path(__file__).parent
    for test_id in slow_first.load():
        path, _, name = test_id.partition("::")
        assert name.split("[")[0] in (tests.parent / path).read_text(), test_id
