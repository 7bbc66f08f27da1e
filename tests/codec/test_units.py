"""`codec.units`: its doctests run here, and every place that shows a size or a duration uses it."""

from __future__ import annotations

import doctest

import codec.units
from codec.units import format_bytes, format_duration


def test_doctests():
    failures, tried = doctest.testmod(codec.units, optionflags=doctest.ELLIPSIS)
    assert tried >= 4 and failures == 0


def test_sizes_round_into_the_next_unit():
    assert [format_bytes(n) for n in (99_949, 99_950, 999_499, 999_500, 999_950_000)] == [
        "99.9 kB",
        "100 kB",
        "999 kB",
        "1.0 MB",
        "1.0 GB",
    ]
    assert format_bytes(512.0) == "512 B"  # float counts (e.g. sums) too


def test_durations_just_under_a_minute_read_as_a_minute():
    assert format_duration(59.96) == "1:00"
    assert format_duration(59.996, decimals=2) == "1:00"
    assert format_duration(3599.6) == "1:00:00"
