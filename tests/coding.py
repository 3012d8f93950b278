"""The top and bottom coding rule as the README states it, written out again for tests to check pages against."""

from __future__ import annotations

# (fewest students, cut): a rate at or above the cut reads '>=cut' and is drawn at it; at or below 1 - cut, '<='.
BANDS = ((300, None), (100, 0.98), (40, 0.95), (20, 0.90), (10, 0.80))


def drawn_rate(met: int, eligible: int) -> float:
    """The rate a chart draws for met of eligible students (no suppression): exact, or the edge of its range."""
    rate = met / eligible
    cut = next((c for smallest, c in BANDS if eligible >= smallest), None)
    if cut is None:
        return rate
    if rate >= cut - 1e-12:
        return cut
    if rate <= 1 - cut + 1e-12:
        return 1 - cut
    return rate
