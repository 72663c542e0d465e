"""The process optimiser: it finds what the runs show, and never promises what they cannot."""

from __future__ import annotations

import numpy as np
import pytest

from factorybrain.engines.optimize import (
    ProcessSurrogate,
    SetpointOptimizer,
    TrustRegion,
    confirmation_runs,
)
from factorybrain.engines.optimize._surrogate import effect_p_values
from factorybrain.exceptions import EngineError, NotFittedError, ParameterError

OPTIMUM = np.array([13.5, 25.5])
SCALE = np.array([1.5, 2.0])


def outcome(X: np.ndarray) -> np.ndarray:
    """A pump's efficiency: quadratic around OPTIMUM, with an interaction."""
    z = (np.asarray(X, dtype=float)[:, :2] - OPTIMUM) / SCALE
    return 60.0 - 1.2 * z[:, 0] ** 2 - 0.9 * z[:, 1] ** 2 - 0.4 * z[:, 0] * z[:, 1]


def history(n: int, *, noise: float, seed: int = 0, centre=(15.0, 24.0), spread=(1.2, 1.5)):
    """Runs that wander around the recipe ``centre``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(centre, spread, size=(n, 2))
    return X, outcome(X) + rng.normal(0.0, noise, n)


# -- surrogate -----------------------------------------------------------------------------
def test_the_quadratic_surrogate_learns_the_response_and_its_optimum() -> None:
    X, y = history(150, noise=0.2)
    surrogate = ProcessSurrogate().fit(X, y)
    grid = np.stack(np.meshgrid(np.linspace(12, 17, 60), np.linspace(21, 28, 60)), -1)
    points = grid.reshape(-1, 2)
    best = points[np.argmax(surrogate.predict(points))]
    assert np.all(np.abs(best - OPTIMUM) / SCALE < 0.25)
    assert surrogate.noise_std_ == pytest.approx(0.2, rel=0.3)


def test_the_gaussian_process_is_less_sure_away_from_the_runs() -> None:
    X, y = history(40, noise=0.2, seed=3)
    surrogate = ProcessSurrogate(kind="gp", n_restarts=0).fit(X, y)
    _, near = surrogate.predict([[15.0, 24.0]], return_std=True)
    _, far = surrogate.predict([[25.0, 40.0]], return_std=True)
    assert far[0] > 3 * near[0]


def test_a_surrogate_says_what_is_wrong_with_its_input() -> None:
    with pytest.raises(NotFittedError):
        ProcessSurrogate().predict([[1.0, 2.0]])
    with pytest.raises(ParameterError, match="'kind' parameter of ProcessSurrogate"):
        ProcessSurrogate(kind="cubic").fit(np.ones((30, 2)), np.ones(30))
    X, y = history(30, noise=0.1)
    X[:, 1] = 7.0
    with pytest.raises(EngineError, match=r"column\(s\) \[1\] have the same value"):
        ProcessSurrogate().fit(X, y)
    few, outcomes = history(5, noise=0.1)
    with pytest.raises(EngineError, match="needs at least 7 runs; got 5"):
        ProcessSurrogate().fit(few, outcomes)


def test_screening_tells_a_parameter_that_matters_from_one_that_does_not() -> None:
    X, y = history(120, noise=0.3, seed=5)
    unrelated = np.random.default_rng(9).normal(100.0, 1.0, size=(120, 1))
    p_values = effect_p_values(np.hstack([X, unrelated]), y)
    assert p_values[0] < 1e-6 and p_values[1] < 1e-6
    assert p_values[2] > 0.01


# -- trust region --------------------------------------------------------------------------
def test_the_trust_region_leaves_out_the_empty_corners_of_its_box() -> None:
    rng = np.random.default_rng(2)
    t = rng.normal(0.0, 1.0, 300)
    X = np.column_stack([t, t + rng.normal(0.0, 0.2, 300)])  # strongly correlated runs
    region = TrustRegion().fit(X)
    lower, upper = region.bounds()
    assert region.contains([[0.0, 0.0]])[0]
    corner = [[lower[0] + 0.1, upper[1] - 0.1]]  # inside the box, where no run ever was
    assert not region.contains(corner)[0]


def test_specification_limits_cut_the_region_and_say_when_nothing_is_left() -> None:
    X, _ = history(100, noise=0.1)
    region = TrustRegion().fit(X)
    lower, upper = region.bounds([(None, 15.5), (None, None)])
    assert upper[0] == 15.5 and lower[0] < 15.5
    with pytest.raises(EngineError, match="tension: its limits"):
        region.bounds([(40.0, 50.0), (None, None)], names=["tension", "force"])


# -- the optimiser -------------------------------------------------------------------------
def test_a_clear_history_gives_a_change_near_the_optimum_with_an_honest_interval() -> None:
    X, y = history(200, noise=0.3, seed=1)
    optimizer = SetpointOptimizer(n_trials=150).fit(X, y, names=["tension", "force"])
    current = {"tension": 15.0, "force": 24.0}
    proposal = optimizer.propose(current)
    found = np.array([proposal.proposed["tension"], proposal.proposed["force"]])
    true_gain = 60.0 - outcome(np.array([[15.0, 24.0]]))[0]
    assert proposal.decision == "change"
    assert np.all(np.abs(found - OPTIMUM) / SCALE < 0.3)
    assert proposal.gain_low <= true_gain + 0.05 and true_gain - 0.05 <= proposal.gain_high
    assert proposal.probability_of_gain > 0.99
    assert set(proposal.changed) == {"tension", "force"}
    assert proposal.runs == ()


def test_the_search_stays_where_the_history_has_been() -> None:
    # the optimum lies 6 standard deviations of the runs away: far outside what they show
    X, y = history(200, noise=0.2, seed=4, centre=(21.0, 24.0), spread=(1.0, 1.5))
    optimizer = SetpointOptimizer(n_trials=150).fit(X, y, names=["tension", "force"])
    proposal = optimizer.propose({"tension": 21.0, "force": 24.0})
    assert proposal.proposed["tension"] >= X[:, 0].min() - 0.5
    assert proposal.proposed["tension"] > OPTIMUM[0] + 3.0
    point = [[proposal.proposed["tension"], proposal.proposed["force"]]]
    assert optimizer.region_.contains(point)[0]


def test_a_wide_interval_asks_for_confirmation_runs_instead_of_a_jump() -> None:
    X, y = history(30, noise=2.0, seed=8)
    optimizer = SetpointOptimizer(n_trials=80).fit(X, y, names=["tension", "force"])
    limits = {"tension": (10.0, 20.0), "force": (20.0, 30.0)}
    proposal = optimizer.propose({"tension": 15.0, "force": 24.0}, limits=limits)
    assert proposal.decision == "confirm"
    assert proposal.gain_low < 0 or proposal.gain_high - proposal.gain_low > proposal.gain
    assert 3 <= len(proposal.runs) <= 6
    roles = [run.role for run in proposal.runs]
    assert roles[0] == "candidate" and roles[-1] == "control"
    assert proposal.runs[-1].setpoints == {"tension": 15.0, "force": 24.0}
    for run in proposal.runs:
        for name, (low, high) in limits.items():
            assert low <= run.setpoints[name] <= high


def test_a_flat_response_keeps_the_recipe() -> None:
    rng = np.random.default_rng(6)
    X = rng.normal((15.0, 24.0), (1.2, 1.5), size=(150, 2))
    y = 60.0 + rng.normal(0.0, 0.3, 150)
    proposal = SetpointOptimizer(n_trials=60).fit(X, y).propose([15.0, 24.0])
    assert proposal.decision == "keep"
    assert proposal.changed == ()
    assert set(proposal.inactive) == {"x0", "x1"}


def test_a_parameter_without_effect_is_not_moved() -> None:
    X, y = history(200, noise=0.3, seed=11)
    speed = np.random.default_rng(12).normal(2150.0, 9.0, size=(200, 1))
    optimizer = SetpointOptimizer(n_trials=150).fit(
        np.hstack([X, speed]), y, names=["tension", "force", "speed"]
    )
    proposal = optimizer.propose({"tension": 15.0, "force": 24.0, "speed": 2150.0})
    assert proposal.decision == "change"
    assert proposal.proposed["speed"] == 2150.0
    assert "speed" not in proposal.changed


def test_specification_limits_are_never_left() -> None:
    X, y = history(200, noise=0.3, seed=1)
    optimizer = SetpointOptimizer(n_trials=150).fit(X, y, names=["tension", "force"])
    proposal = optimizer.propose(
        {"tension": 15.0, "force": 24.0}, limits={"tension": (14.4, None), "force": (None, 24.8)}
    )
    assert proposal.proposed["tension"] >= 14.4
    assert proposal.proposed["force"] <= 24.8
    assert proposal.decision in ("change", "confirm")


def test_minimising_looks_the_other_way() -> None:
    X, y = history(200, noise=0.3, seed=1)
    optimizer = SetpointOptimizer(n_trials=150).fit(X, -y, names=["tension", "force"])
    proposal = optimizer.propose({"tension": 15.0, "force": 24.0}, direction="minimize")
    found = np.array([proposal.proposed["tension"], proposal.proposed["force"]])
    assert proposal.gain > 0
    assert proposal.expected_proposed < proposal.expected_current
    assert np.all(np.abs(found - OPTIMUM) / SCALE < 0.3)


def test_the_same_history_gives_the_same_proposal() -> None:
    X, y = history(120, noise=0.3, seed=2)
    first = SetpointOptimizer(n_trials=60).fit(X, y).propose([15.0, 24.0])
    second = SetpointOptimizer(n_trials=60).fit(X, y).propose([15.0, 24.0])
    assert first.proposed == second.proposed and first.gain == second.gain


def test_a_proposal_request_names_what_is_missing() -> None:
    X, y = history(60, noise=0.3)
    optimizer = SetpointOptimizer(n_trials=20).fit(X, y, names=["tension", "force"])
    with pytest.raises(ParameterError, match=r"current lacks parameter\(s\) \['force'\]"):
        optimizer.propose({"tension": 15.0})
    with pytest.raises(ParameterError, match="direction must be"):
        optimizer.propose([15.0, 24.0], direction="up")
    with pytest.raises(ParameterError, match="'n_trials' parameter of SetpointOptimizer"):
        SetpointOptimizer(n_trials=3).fit(X, y)


# -- design of experiments -----------------------------------------------------------------
def test_two_changed_parameters_get_a_face_centred_design_with_a_control() -> None:
    runs = confirmation_runs([13.5, 25.5], [15.0, 24.0], [0.5, 1.0])
    assert [r.role for r in runs] == ["candidate", "face", "face", "face", "face", "control"]
    faces = {r.setpoints for r in runs if r.role == "face"}
    assert faces == {(13.0, 25.5), (14.0, 25.5), (13.5, 24.5), (13.5, 26.5)}
    assert runs[-1].setpoints == (15.0, 24.0)


def test_many_changed_parameters_get_a_latin_hypercube_within_limits() -> None:
    runs = confirmation_runs(
        [1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], upper=[1.5, 9, 9], max_runs=6
    )
    filling = np.array([r.setpoints for r in runs if r.role == "space_filling"])
    assert len(runs) == 6 and len(filling) == 4
    assert (filling[:, 0] <= 1.5).all()
    for column in range(3):  # every parameter takes a level of its own in every run
        assert len(np.unique(np.round(filling[:, column], 9))) == 4


def test_an_unchanged_parameter_is_not_varied_and_bad_input_is_named() -> None:
    runs = confirmation_runs([13.5, 24.0], [15.0, 24.0], [0.5, 1.0])
    assert all(r.setpoints[1] == 24.0 for r in runs)
    assert len(runs) == 4
    with pytest.raises(ParameterError, match="max_runs must be an int in"):
        confirmation_runs([1.0], [0.0], [1.0], max_runs=2)
    with pytest.raises(ParameterError, match="one value per parameter"):
        confirmation_runs([1.0, 2.0], [0.0], [1.0])
