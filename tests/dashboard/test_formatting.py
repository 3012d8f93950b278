"""percents() labels whole columns exactly as percent() labels one value."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dashboard.formatting import percent, percents


def test_every_fraction_of_small_counts_reads_as_percent_reads_it() -> None:
    # Every met/eligible up to 400 students: every half-point tie (1/8, 5/8, 1/200...) that small counts make.
    rates = np.array([met / eligible for eligible in range(1, 401) for met in range(eligible + 1)])
    assert list(percents(rates)) == [percent(float(r)) for r in rates]


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=50))
def test_any_float_reads_as_percent_reads_it(values: list[float]) -> None:
    assert list(percents(np.array(values, dtype=float))) == [percent(v) for v in values]
