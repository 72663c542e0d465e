"""``factorybrain listen --agents``: the agents run as data arrives, paced, and once at the end."""

from __future__ import annotations

from dataclasses import dataclass, field

from factorybrain.cli._live import _AgentPacer


@dataclass
class _Ran:
    findings: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)


class _Orchestrator:
    def __init__(self) -> None:
        self.runs = 0

    def run_on_new_data(self, changed: list[str]) -> _Ran:
        assert changed == ["datapoint"]
        self.runs += 1
        return _Ran()


@dataclass
class _Batch:
    inserted: int = 0
    updated: int = 0


def test_agents_run_after_batches_with_new_data_only() -> None:
    orchestrator = _Orchestrator()
    pacer = _AgentPacer(orchestrator, every=0)
    for batch in (_Batch(inserted=5), _Batch(), _Batch(updated=1), _Batch()):
        pacer.batch(batch)
    pacer.finish()
    assert orchestrator.runs == 2


def test_a_busy_feed_runs_the_agents_once_per_interval_and_once_more_at_the_end() -> None:
    orchestrator = _Orchestrator()
    pacer = _AgentPacer(orchestrator, every=3600)
    for _ in range(50):
        pacer.batch(_Batch(inserted=100))
    assert orchestrator.runs == 1, "the first batch runs them, the next 49 wait for the interval"
    pacer.finish()
    assert orchestrator.runs == 2, "the data that waited is seen before the listener stops"
    pacer.finish()
    assert orchestrator.runs == 2, "nothing new, no run"
