"""The suite itself: unit tests assert behaviour, not wall-clock speed.

Speed figures live in ``benchmarks/`` scripts that print numbers (``scale_timings.py`` holds
the ones that used to be assertions). A hang guard (``_helpers.time_limit``) is fine: it bounds
a call that could block forever, it does not claim a speed.
"""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# `assert <clock>() - t0 < N`, `assert elapsed < N`, `assert seconds < LIMIT`, ...
SPEED_ASSERT = re.compile(
    r"assert\b[^\n#]*(?:(?:perf_counter|monotonic|time)\(\)\s*-|\b(?:elapsed|seconds|"
    r"duration|took|LOAD_TIMES\[[^\]]*\])\s*<)")


#: Known exceptions (none: the widget tests' "the click returns at once" checks now read the
#: runner's state instead of a clock).
KNOWN: dict[str, int] = {}


def speed_assertions(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if SPEED_ASSERT.search(line)]


def test_the_pattern_finds_speed_assertions():
    assert speed_assertions("    assert time.perf_counter() - t < 5.0\n")
    assert speed_assertions("    assert elapsed < 20, 'slow'\n")
    assert speed_assertions('    assert LOAD_TIMES["ced"] < TIME_LIMIT_S\n')
    assert not speed_assertions("    assert stats['edges'] == len(e)\n")


def test_no_unit_test_asserts_wall_clock_speed():
    found = {path.name: hits for path in sorted(TESTS.glob("test_*.py"))
             if path.name != Path(__file__).name
             and len(hits := speed_assertions(path.read_text())) > KNOWN.get(path.name, 0)}
    assert not found, f"move these speed assertions to a benchmarks/ script: {found}"
