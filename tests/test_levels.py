"""The variance levels of an ab (rounds, processes, measurements) on simulated times with known components."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mnist_classic.analysis.verdicts.levels import Levels, format_levels, process_cost, variance_levels

#: The simulation's standard deviations of log time: the machine's drift per round (common to both sides, cancelled
#: by pairing), what of a round pairing leaves (per side), a process's own offset, a measurement's noise.
DRIFT, ROUND, PROCESS, MEASUREMENT = 0.1, 0.04, 0.05, 0.03


def simulate(rounds=300, processes=3, measurements=4, seed=0, slowdown=1.2):
    """Rows of an ab whose log fit times follow the nested model with the components above."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(1, rounds + 1):
        drift = rng.normal(0, DRIFT)
        for side in ("base", "new"):
            level = drift + rng.normal(0, ROUND) + (math.log(slowdown) if side == "new" else 0.0)
            for p in range(processes):
                offset = level + rng.normal(0, PROCESS)
                for m in range(measurements):
                    fit = math.exp(offset + rng.normal(0, MEASUREMENT))
                    rows.append(
                        {
                            "ab_round": k,
                            "side": side,
                            "run_id": f"{side}-{k}-{p}",
                            "repeat": m,
                            "status": "ok",
                            "fit_time_s": fit,
                            "predict_time_s": 0.0,
                        }
                    )
    return pd.DataFrame(rows)


def test_the_estimates_recover_the_simulated_components():
    lv = variance_levels(simulate(), "fit_time_s", case="svm n_train=2000", process_cost_s=4.0)
    assert (lv.rounds, lv.processes, lv.measurements) == (300, 3, 4)
    assert lv.measurement_s == pytest.approx(MEASUREMENT, rel=0.05)
    assert lv.process_s == pytest.approx(PROCESS, rel=0.10)
    assert lv.round_s == pytest.approx(math.sqrt(2) * ROUND, rel=0.15)  # the round ratio's: two sides' offsets
    assert lv.round_with == lv.process_with == ""
    # the spread of the round ratios holds every level: 2 (ROUND^2 + (PROCESS^2 + MEASUREMENT^2 / M) / P)
    expected = math.sqrt(2 * (ROUND**2 + (PROCESS**2 + MEASUREMENT**2 / 4) / 3))
    assert lv.ratio_s == pytest.approx(expected, rel=0.10)
    # n_opt = ceil(sqrt(c_process / c_measurement * T1^2 / T2^2)): 4 s a process, about 1.1 s a measurement
    assert lv.measurement_cost_s == pytest.approx(1.1, rel=0.05)  # base about 1 s, new x1.2
    n = math.ceil(math.sqrt(4.0 / lv.measurement_cost_s * lv.measurement_s**2 / lv.process_s**2))
    assert lv.measurements_per_process == n == 2


def test_a_level_with_one_value_per_unit_is_said_to_be_too_few():
    one_process = variance_levels(simulate(rounds=20, processes=1, measurements=3), "fit_time_s", process_cost_s=4.0)
    assert one_process.process_s is None and one_process.round_with == "processes"
    assert one_process.measurements_per_process is None
    line = format_levels(one_process)
    assert "rounds (with processes) s=" in line and "processes: too few values (1 per round and side)" in line
    assert line.endswith("-> measurements per process: unknown (needs 2 processes or more per round and side)")
    one_measurement = variance_levels(simulate(rounds=20, processes=2, measurements=1), "fit_time_s")
    assert one_measurement.measurement_s is None and one_measurement.process_with == "measurements"
    assert "measurements: too few values (1 per process)" in format_levels(one_measurement)
    one_round = variance_levels(simulate(rounds=1), "fit_time_s")
    assert one_round.round_s is None and "rounds: too few values (1 round)" in format_levels(one_round)


def test_processes_with_no_variance_of_their_own_call_for_measurements_not_processes():
    rows = simulate(rounds=10, processes=2, measurements=2)
    rows["fit_time_s"] = [1.0, 1.2] * (len(rows) // 2)  # every process the same: all the variance is within
    lv = variance_levels(rows, "fit_time_s", process_cost_s=3.0)
    assert lv.process_s == 0.0 and lv.measurement_s > 0
    assert lv.measurements_per_process is None and lv.note.startswith("as many as time allows")


def test_the_formula_and_the_process_cost():
    lv = Levels("svm n_train=2000", "fit_time_s", 5, 2, 3, 0.041, 0.12, 0.01, measurements_per_process=1)
    assert format_levels(lv) == (
        "levels svm n_train=2000 fit_time_s: rounds s=0.041, processes s=0.120, measurements s=0.010 "
        "-> measurements per process: 1"
    )
    rows = pd.DataFrame({"run_id": ["a", "a", "b"], "fit_time_s": [1.0, 2.0, 1.0], "predict_time_s": [0.5, 0.5, None]})
    assert process_cost(rows, [6.0, 3.0]) == pytest.approx(4.5 - (4.0 + 1.0) / 2)
    assert process_cost(rows, []) is None
    assert process_cost(rows, [1.0]) == 0.0  # never below 0
