"""KPI rate cards through AppTest: a change that rounds to nothing reads "no change" with no arrow, and a real
change keeps its arrow."""

from __future__ import annotations

from streamlit.proto.Metric_pb2 import Metric
from streamlit.testing.v1 import AppTest


def _cards_script(now_met: int, before_met: int) -> None:
    import pandas as pd

    from components import kpi

    def rates(met: int) -> pd.DataFrame:
        return pd.DataFrame({"metric": ["graduated"], "met": [met], "eligible": [1_000], "status": ["shown"]})

    kpi.rate_cards(rates(now_met), rates(before_met), ["graduated"])


def _card(now_met: int, before_met: int):
    at = AppTest.from_function(_cards_script, kwargs={"now_met": now_met, "before_met": before_met}).run()
    assert not at.exception
    return at.metric[0]


def test_no_change_has_no_arrow() -> None:
    card = _card(960, 960)
    assert card.delta == "no change"
    assert card.proto.direction == Metric.MetricDirection.NONE


def test_a_change_keeps_its_arrow() -> None:
    card = _card(960, 950)
    assert card.delta == "+1.0 pts"
    assert card.proto.direction == Metric.MetricDirection.UP
