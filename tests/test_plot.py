"""Pictures: each plot is rendered with the Agg backend to a PNG file, and its content is checked
against the result it draws (the lines are the draws, the bands the predictive quantiles, the bars
the swap rates and mode shares) and against known answers (raw R-hat far above canonical R-hat for
chains in different relabelings; two mirror-image modes on the bumps data)."""

import os

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PathCollection, PolyCollection  # noqa: E402

import symhmc as sh  # noqa: E402
from symhmc._native import core  # noqa: E402
from symhmc._sample import _symmetry_for  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def render(fig, path):
    """Writes fig as PNG, reads it back: a picture of the figure's size, not blank."""
    fig.savefig(path, dpi=50)
    img = matplotlib.image.imread(path)
    w, h = fig.get_size_inches() * 50
    assert img.shape[:2] == (round(h), round(w))
    assert np.mean(img[..., :3] < 0.9) > 0.01  # something is drawn
    return img


def separated_units(n=120, seed=0):
    """A 1-3-1 tanh net whose units are far apart (as examples/symmetry_rhat.py)."""
    W1, b1, W2 = np.array([0.6, 1.8, 3.6]), np.array([-1.2, 0.0, 1.8]), np.array([0.7, -1.5, 2.5])
    x = np.linspace(-3.0, 3.0, n)
    y = np.tanh(x[:, None] * W1 + b1) @ W2 + 0.1 * np.random.default_rng(seed).standard_normal(n)
    return x[:, None], y


def bumps(n_half=20, seed=0):
    """Two Gaussian bumps at +-1, data mirrored under x -> -x: a 1-2-1 tanh net fits either bump,
    so the posterior has two mirror-image modes of equal mass (benchmarks/report_tempering.py)."""
    xr = np.linspace(0.0, 2.0, n_half + 1)[1:]
    e = 0.1 * np.random.default_rng(seed).standard_normal(n_half)

    def f(x):
        return np.exp(-0.5 * ((x - 1) / 0.3) ** 2) + np.exp(-0.5 * ((x + 1) / 0.3) ** 2)

    x = np.concatenate([-xr[::-1], xr])
    return x[:, None], np.concatenate([f(-xr[::-1]) + e[::-1], f(xr) + e])


RUN = dict(chains=4, draws=500, warmup=500, n_steps=64, seed=1, progress=False)


@pytest.fixture(scope="module")
def symmetric():
    X, y = separated_units()
    model = sh.BayesianMLP(X, y, hidden=(3,), noise=0.1)
    return model, sh.sample(model, canonicalize=False, **RUN), sh.sample(model, **RUN)


@pytest.fixture(scope="module")
def bumps_pt():
    X, y = bumps()
    model = sh.BayesianMLP(X, y, hidden=(2,), noise=0.1)
    return sh.sample(model, chains=4, draws=800, warmup=400, seed=2, progress=False,
                     tempering=sh.Tempering(n_replicas=10))


# -- trace ----------------------------------------------------------------------------------------
def _lines_by_panel(fig):
    return [[ln.get_ydata() for ln in ax.get_lines()] for ax in fig.axes]


def test_trace_draws_raw_and_canonical_weights_of_the_same_run(symmetric, tmp_path):
    model, plain, _ = symmetric
    fig = plain.plot_trace()
    render(fig, tmp_path / "trace.png")
    canonical = sh.canonicalize(model, plain.draws)
    rhat_raw, rhat_can = plain.rhat(), plain.rhat(values=canonical)
    top3 = np.argsort(-rhat_raw, kind="stable")[:3]
    names = [n for n in plain.summary(max_rows=100).names]
    axes = np.array(fig.axes).reshape(3, 2)
    for row, j in enumerate(top3):
        left, right = axes[row]
        assert left.get_ylabel() == names[j]
        assert left.get_title() == f"raw {names[j]}: R-hat {rhat_raw[j]:.2f}"
        assert right.get_title() == f"canonical {names[j]}: R-hat {rhat_can[j]:.2f}"
        assert len(left.get_lines()) == len(right.get_lines()) == plain.chains
        for c in range(plain.chains):
            assert np.array_equal(left.get_lines()[c].get_ydata(), plain.draws[c, :, j])
            assert np.array_equal(right.get_lines()[c].get_ydata(), canonical[c, :, j])
        # Known answer: chains started in different relabelings disagree raw, agree canonical.
        assert rhat_raw[j] > 2 and rhat_can[j] < 1.1
    assert [ax.get_xlabel() for ax in axes[-1]] == ["draw", "draw"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [f"chain {c}" for c in range(plain.chains)]


def test_trace_of_a_canonical_result_takes_the_raw_run(symmetric):
    model, plain, inside = symmetric
    given, computed = _lines_by_panel(inside.plot_trace(raw=plain)), _lines_by_panel(plain.plot_trace())
    assert [len(p) for p in given] == [len(p) for p in computed] == [plain.chains] * 6
    assert all(np.array_equal(a, b) for pa, pb in zip(given, computed) for a, b in zip(pa, pb))
    with pytest.raises(ValueError, match="^raw: this result keeps only canonical draws"):
        inside.plot_trace()
    other = sh.sample(model, canonicalize=False, **dict(RUN, seed=2))
    with pytest.raises(ValueError, match="^raw: its canonical form differs"):
        inside.plot_trace(raw=other)
    with pytest.raises(ValueError, match="^raw: this result's draws are raw already"):
        plain.plot_trace(raw=plain)


def test_trace_params_and_bad_input(symmetric):
    model, plain, _ = symmetric
    fig = plain.plot_trace(params=["W2[1,0]", 0])
    assert len(fig.axes) == 4 and [fig.axes[0].get_ylabel(), fig.axes[2].get_ylabel()] == ["W2[1,0]", "W1[0,0]"]
    with pytest.raises(ValueError, match="^params"):
        plain.plot_trace(params=["W9[0,0]"])
    with pytest.raises(ValueError, match="^params"):
        plain.plot_trace(params=[model.n_params])
    linear = sh.BayesianMLP(*separated_units(30), hidden=())
    res = sh.sample(linear, chains=2, draws=10, warmup=10, seed=0, progress=False)
    with pytest.raises(ValueError, match="no symmetry"):
        res.plot_trace()


# -- predictive -----------------------------------------------------------------------------------
def _bands(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def _band_edges(band, n):
    """Lower and upper curves of a fill_between band over n points."""
    verts = band.get_paths()[0].vertices
    return verts[1:n + 1, 1], verts[n + 2:2 * n + 2, 1][::-1]


def test_predictive_band_with_the_data(symmetric, tmp_path):
    model, _, res = symmetric
    grid = np.linspace(-4, 4, 50)
    fig = res.plot_predictive(grid)
    render(fig, tmp_path / "predictive.png")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "90% band of a new y", "90% band of f(x)", "posterior mean", "data"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
    y_band, f_band = _bands(ax)
    pred = res.predict(grid[:, None], quantiles=(0.05, 0.95))
    lo, hi = _band_edges(f_band, grid.size)
    assert np.allclose(lo, pred["quantiles"][0]) and np.allclose(hi, pred["quantiles"][1])
    (mean_line,) = ax.get_lines()
    assert np.allclose(mean_line.get_ydata(), pred["mean"])
    (data,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert np.allclose(data.get_offsets(), np.column_stack([model._X[:, 0], model._y]))
    # A new y adds the noise (sd 0.1, 90%: +-0.16) to f: its band is wider everywhere.
    y_lo, y_hi = _band_edges(y_band, grid.size)
    assert np.all(y_hi - y_lo > hi - lo) and np.all(y_hi - y_lo > 2 * 1.5 * 0.1)


@pytest.mark.parametrize("likelihood, classes", [("bernoulli", 2), ("categorical", 3)])
def test_predictive_classification_draws_class_probabilities(likelihood, classes, tmp_path):
    x = np.linspace(-2, 2, 60)
    y = np.digitize(x, np.linspace(-2, 2, classes + 1)[1:-1]).astype(float)
    model = sh.BayesianMLP(x[:, None], y, hidden=(3,), likelihood=likelihood)
    res = sh.sample(model, chains=2, draws=40, warmup=60, seed=0, progress=False)
    fig = res.plot_predictive(level=0.5)
    render(fig, tmp_path / "classes.png")
    panels = classes - 1 if likelihood == "bernoulli" else classes
    assert len(fig.axes) == panels
    for k, ax in enumerate(fig.axes):
        cls = 1 if likelihood == "bernoulli" else k
        assert ax.get_ylabel() == f"P(y = {cls})" and len(_bands(ax)) == 1 and len(ax.get_lines()) == 1
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            f"50% band of P(y = {cls})", "posterior mean", f"data (y = {cls}: 1, else 0)"]
        (data,) = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert np.array_equal(data.get_offsets()[:, 1], (y == cls).astype(float))


def test_predictive_bad_input(symmetric):
    rng = np.random.default_rng(0)
    model = sh.BayesianMLP(rng.normal(size=(20, 2)), rng.normal(size=20), hidden=(2,))
    res = sh.sample(model, chains=2, draws=5, warmup=5, seed=0, progress=False)
    with pytest.raises(ValueError, match="^X_grid: .* 2 features"):
        res.plot_predictive()
    with pytest.raises(ValueError, match="^level"):
        symmetric[2].plot_predictive(level=1.5)
    with pytest.raises(ValueError, match="^X_grid"):
        symmetric[2].plot_predictive(X_grid=[[0.0, 1.0]])


# -- tempering ------------------------------------------------------------------------------------
def test_tempering_schedule_swap_rates_and_round_trips(bumps_pt, tmp_path):
    rep = bumps_pt.tempering
    fig = bumps_pt.plot_tempering()
    render(fig, tmp_path / "tempering.png")
    ax_s, ax_a, ax_r = fig.axes
    hist = rep.history
    assert hist.iteration[0] == 0 and hist.iteration[-1] == 400 + 800 and hist.warmup == 400
    assert np.array_equal(hist.betas[-1], rep.betas) and np.array_equal(hist.round_trips[-1], rep.round_trips)
    assert np.all(np.diff(hist.round_trips, axis=0) >= 0)
    # schedule: one line per replica, plus the end of warm-up
    beta_lines = [ln for ln in ax_s.get_lines() if ln.get_label() != "end of warm-up"]
    assert len(beta_lines) == rep.n_replicas and len(ax_s.get_lines()) == rep.n_replicas + 1
    assert np.array_equal([ln.get_ydata()[-1] for ln in beta_lines], rep.betas)
    assert (ax_s.get_xlabel(), ax_s.get_ylabel()) == ("transition", "beta")
    # swap rates: one bar per neighbouring pair
    assert np.allclose([p.get_height() for p in ax_a.patches], rep.swap_acceptance)
    assert ax_a.get_ylabel() == "swap acceptance" and "Lambda" in ax_a.get_title()
    # round trips over time: one line per chain ending at its count
    trips = [ln for ln in ax_r.get_lines() if ln.get_label().startswith("chain")]
    assert len(trips) == bumps_pt.chains
    assert [ln.get_ydata()[-1] for ln in trips] == list(rep.round_trips)
    assert rep.round_trips.sum() > 0 and ax_r.get_ylabel() == "round trips"


def test_recording_the_history_leaves_the_draws_as_one_core_call(bumps_pt):
    """sample() runs tempering in segments to record the history; one core call makes the same draws."""
    model, chains, R, P = bumps_pt.target, 2, 4, bumps_pt.target.n_params
    res = sh.sample(model, chains=chains, draws=30, warmup=40, seed=7, progress=False, thin=2,
                    tempering=sh.Tempering(n_replicas=R))
    assert res.tempering.history.iteration.size == sh._tempering.HISTORY_POINTS + 1
    from symhmc._sample import _initial_points
    from symhmc._seed import seed_key

    key = seed_key(7)
    hmc_raw = core.initial_state(chains * R, P, key, 40, _initial_points(model, None, chains * R, key))
    pt_raw = core.initial_tempering_state(chains, list(sh.Tempering(n_replicas=R).initial_betas(R)))
    draws = np.empty((chains, 30, P))
    stats = np.zeros((chains, 30), dtype=core.draw_stats_dtype())
    trace = np.full((chains, 59, R), np.nan)
    report = core.run_tempering(model._core, hmc_raw, pt_raw, res.last_state.settings, True, False, 40 + 59, 2,
                                draws, stats, None, trace, 0, None, _symmetry_for(model, None, None))
    assert np.array_equal(res.draws, draws) and np.array_equal(res.stats["lp"], stats["logp"])
    assert np.array_equal(res.tempering.loglik_trace, trace)
    assert np.array_equal(res.last_state.position, report["hmc_state"]["position"])
    assert np.array_equal(res.tempering.betas, report["tempering_state"]["betas"])


def test_history_of_a_continued_run_starts_where_it_left_off(bumps_pt):
    more = sh.sample(bumps_pt.target, draws=100, init=bumps_pt.last_state, progress=False)
    hist = more.tempering.history
    assert hist.iteration[0] == 1200 and hist.iteration[-1] == 1300 and hist.warmup == 400
    assert np.all(hist.round_trips[0] == 0) and np.array_equal(hist.round_trips[-1], more.tempering.round_trips)
    assert np.all(hist.betas == bumps_pt.tempering.betas)  # the schedule is fixed after warm-up
    fig = more.plot_tempering()
    assert "end of warm-up" not in [ln.get_label() for ln in fig.axes[0].get_lines()]


def test_tempering_plot_needs_a_tempered_run(symmetric):
    with pytest.raises(ValueError, match="tempered run"):
        symmetric[1].plot_tempering()


# -- modes ----------------------------------------------------------------------------------------
def test_modes_drawn_as_functions(bumps_pt, tmp_path):
    model = bumps_pt.target
    census = bumps_pt.modes(tol=0.3)
    # Known answer: the left-bump and right-bump fits, mirror images of equal mass.
    assert census.n_modes >= 2 and census[0].share > 0.25 and census[1].share > 0.25
    grid = np.linspace(-2.5, 2.5, 80)
    fig = bumps_pt.plot_modes(X_grid=grid, tol=0.3, members=5)
    render(fig, tmp_path / "modes.png")
    ax_f, ax_s = fig.axes
    thick = [ln for ln in ax_f.get_lines() if ln.get_label().startswith("mode")]
    assert len(thick) == census.n_modes
    for m, ln in enumerate(thick):
        assert ln.get_label().startswith(f"mode {m}: share {census[m].share:.2f}")
        assert np.allclose(ln.get_ydata(), model.predict(census[m].representative, grid[:, None]))
    sizes = [int(np.sum(census.labels == m)) for m in range(census.n_modes)]
    assert len(ax_f.get_lines()) - len(thick) == sum(min(5, s) for s in sizes)
    assert (ax_f.get_xlabel(), ax_f.get_ylabel()) == ("x", "f(x)")
    # each chain's shares, stacked by mode: n_modes x chains bars, each chain's stack summing to 1
    assert len(ax_s.patches) == census.n_modes * bumps_pt.chains
    heights = np.array([p.get_height() for p in ax_s.patches]).reshape(census.n_modes, bumps_pt.chains)
    assert np.allclose(heights.sum(axis=0), 1.0)
    assert np.allclose(heights, np.array([m.chain_shares for m in census.modes]))
    assert (ax_s.get_xlabel(), ax_s.get_ylabel()) == ("chain", "share of draws")


def test_modes_with_several_inputs_use_the_reference_rows(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 2))
    model = sh.BayesianMLP(X, np.tanh(X[:, 0]) + 0.1 * rng.normal(size=30), hidden=(2,))
    res = sh.sample(model, chains=2, draws=30, warmup=50, seed=0, progress=False)
    fig = res.plot_modes()
    render(fig, tmp_path / "modes2.png")
    assert fig.axes[0].get_xlabel() == "reference input (training row)"
    (data,) = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    assert len(data.get_offsets()) == res.modes().X.shape[0]


# -- command line ---------------------------------------------------------------------------------
def test_cli_plot_writes_pictures_and_keeps_the_draws(tmp_path, capsys):
    from symhmc._cli import main

    common = ["run", "--hidden", "3", "--chains", "2", "--draws", "20", "--warmup", "30", "--no-progress"]
    assert main(common + ["--out", str(tmp_path / "a.npz")]) == 0
    assert main(common + ["--out", str(tmp_path / "b.npz"), "--plot", str(tmp_path / "pics")]) == 0
    assert "plots: wrote modes.png, predictive.png, trace.png" in capsys.readouterr().out
    for name in ("modes.png", "predictive.png", "trace.png"):
        img = matplotlib.image.imread(tmp_path / "pics" / name)
        assert img.ndim == 3 and img.shape[0] > 100
    assert sorted(os.listdir(tmp_path / "pics")) == ["modes.png", "predictive.png", "trace.png"]
    # Sampling unrelabeled and relabeling after gives the in-sampler canonical draws, bitwise.
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert bool(b["canonical"]) and np.array_equal(a["draws"], b["draws"])
    assert np.array_equal(a["predict_mean"], b["predict_mean"])
