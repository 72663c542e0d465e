"""The demo's maintenance score: model warnings and single-sensor trends are counted apart."""

from __future__ import annotations

from datetime import datetime, timedelta

from factorybrain.agents import AgentRecords, EntityRef, Evidence, Finding
from factorybrain.agents.maintenance import AGENT
from factorybrain.agents.maintenance._demo import score_maintenance

FAILED = datetime(2026, 1, 19, 9, 30)
TRUTH = {
    "entities": [{"type": "equipment", "id": "EQ-6", "refs": {"erp": ["10000229"]}}],
    "failures": [
        {
            "machine": "EQ-6",
            "time": "2026-01-19T09:30:00Z",
            "kind": "degradation",
            "degradation_start": "2026-01-09T16:00:00Z",
            "detectable_from": "2026-01-11T21:00:00Z",
            "observable": True,
        }
    ],
    "anomaly_windows": [
        {
            "machine": "EQ-6",
            "start": "2026-01-09T16:00:00Z",
            "end": "2026-01-19T09:30:00Z",
            "failure_time": "2026-01-19T09:30:00Z",
            "outcome": "failure",
        }
    ],
}


def _finding(kind: str, subject: str, at: datetime) -> Finding:
    return Finding(
        AGENT,
        kind,
        EntityRef("asset", subject, "erp"),
        severity="medium",
        evidence=Evidence(text="vibration climbing"),
        dedup_key=f"{kind}-{subject}-{at:%Y%m%d%H}",
        created_at=at,
    )


def test_a_trend_days_before_the_failure_warns_of_it_and_one_elsewhere_is_counted_wrong(
    store,
) -> None:
    records = AgentRecords(store)
    for finding in (
        _finding("maintenance.sensor_trend", "10000229", FAILED - timedelta(days=5)),
        _finding("maintenance.sensor_trend", "10000999", FAILED - timedelta(days=5)),
    ):
        records.report_finding(finding, at=finding.created_at)
    scores = {s.kind: s for s in score_maintenance(store, TRUTH)}
    trend = scores["maintenance.trend_warned_24h"]
    assert (trend.expected, trend.found, trend.correct, trend.recall) == (1, 2, 1, 1.0)
    assert "1 of 1" in trend.note and "median lead 120 h" in trend.note
    # the model's warnings keep their own meaning: a trend is none of them
    assert scores["maintenance.failure_warned_24h"].correct == 0
    assert scores["maintenance.warning"].found == 0
