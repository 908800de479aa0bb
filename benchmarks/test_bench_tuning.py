"""Smoke test of report_tuning.py: its core on a tiny configuration (2 chains x (30 + 30), problem (a)),
and, when jax and numpyro are installed, the NumPyro model against symhmc's (NumPyro's potential energy
equals -model.logp on converted draws, fixed and inferred noise). No NumPyro sampling here: its
compilation alone takes longer than this file may.

    python -m pytest benchmarks/test_bench_tuning.py -q --benchmark-disable
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import numpyro_reference as nr
import report_tuning as rt

sh = pytest.importorskip("symhmc")
pytest.importorskip("arviz_stats")


@pytest.fixture(scope="module")
def rows():
    return rt.run_report(sh, ["sin1d"], ["default", "nuts", "static", "numpyro"], [16], chains=2, warmup=30,
                         draws=30, seeds=[0, 1], have_jax=False, have_blackjax=False)


def test_rows_and_columns(rows):
    kinds = [(r["kind"], r["seed"]) for r in rows]
    assert kinds == [("default", 0), ("default", 1), ("default", "median"), ("nuts", 0), ("nuts", 1)] + (
        [("nuts", "median")] if any(r["kind"] == "nuts" and r["seed"] == "median" for r in rows) else []) + [
        ("static", 0), ("static", 1), ("static", "median"), ("numpyro", 0), ("numpyro", 1)]
    for r in rows:
        if r["kind"] == "numpyro":
            assert "na" in r
            continue
        if "na" in r:  # the NUTS kernel before it lands
            assert r["kind"] == "nuts" and r["na"].startswith("n/a")
            continue
        for key in ("pred_rhat", "pred_ess", "gradient_evaluations", "ess_per_1k_grads", "wall_seconds",
                    "ess_per_s", "mean_steps", "step_size", "trajectory_length", "accept", "b_out_rhat",
                    "b_out_ess"):
            assert math.isfinite(r[key]), (r["sampler"], key, r[key])
        assert r["gradient_evaluations"] > 0 and r["pred_ess"] > 0 and r["pred_rhat"] > 0.5
    static = [r for r in rows if r["kind"] == "static" and r["seed"] != "median"]
    assert all(r["sampler"] == "symhmc n_steps=16" and r["mean_steps"] <= 16 for r in static)
    table = rt.main_table(rows)
    lines = table.splitlines()
    assert lines[0] == rt.table_row(rt.MAIN_COLS) and len(lines) == 2 + len(rows)
    assert all(line.count("|") == len(rt.MAIN_COLS) + 1 for line in lines)


def test_demo_model_matches_cli():
    case = rt.build_case(sh, "demo")
    assert case.model.noise == "infer" and case.model.activation == "tanh"
    assert set(case.scalars) == {"b_out", "log_noise"} and case.scalars["log_noise"] == case.model.n_params - 1
    assert abs(case.X.mean()) < 1e-12 and abs(case.X.std() - 1) < 1e-12 and abs(case.y.std() - 1) < 1e-12
    assert case.X_eval.shape == (rt.N_INPUTS, 1)


@pytest.mark.skipif(not nr.jax_available(), reason="jax + numpyro not installed")
@pytest.mark.parametrize("name", ["sin1d", "demo"])
def test_numpyro_model_matches(name):
    assert nr.setup_jax()
    case = rt.build_case(sh, name)
    spec = nr.MLPSpec.from_model(case.model, case.X, case.y)
    thetas = 3.0 * rt.symhmc_init(sh, case, 3, 0)  # away from zero, so that every weight matters
    thetas[:, -1] = [-1.0, 0.3, 0.8]
    assert nr.check_potential(spec, case.model, thetas) < 1e-10
    # draws as NumPyro returns them ({site: (K, shape)}), converted to symhmc's flat order
    raw = nr.unflatten(spec, thetas)
    assert nr.check_numpyro_draws(spec, case.model, raw) < 1e-10
    assert np.array_equal(nr.flatten(spec, raw), thetas)
