"""The ``symhmc run`` command line: the .npz it writes, the demo data and the CSV loader, bad options
(exit status 2 and a one-line message naming the option), ``python -m symhmc`` and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from symhmc._cli import main
from symhmc._datasets import demo_function, demo_regression, load_csv

TINY = ["--chains", "2", "--draws", "30", "--warmup", "30", "--hidden", "5", "--no-progress"]
STATS = ("acceptance_rate", "diverging", "step_size", "lp", "n_steps", "energy", "tree_depth", "trajectory_length")


def _write_csv(path, n=40, seed=1):
    rng = np.random.default_rng(seed)
    a, b, c = rng.normal(size=(3, n))
    y = np.sin(a) + 0.5 * b + 0.1 * rng.normal(size=n)
    label = (a + b > 0).astype(int)
    with open(path, "w") as fh:
        fh.write("a,b,unused,y,label\n")
        for row in zip(a, b, c, y, label):
            fh.write(",".join(f"{v:.6g}" for v in row) + "\n")
    return path


def _check_layout(f, chains, draws, sizes, noise_param):
    P = sum(sizes[i] * sizes[i + 1] + sizes[i + 1] for i in range(len(sizes) - 1)) + int(noise_param)
    assert f["draws"].shape == (chains, draws, P)
    assert np.all(np.isfinite(f["draws"]))
    for name in STATS:
        assert f[f"stat_{name}"].shape == (chains, draws), name
    assert np.all(np.isfinite(f["stat_lp"]))
    assert list(f["layer_sizes"]) == list(sizes)
    names = [f"{w}{l}" for l in range(1, len(sizes)) for w in "Wb"] + (["log_noise"] if noise_param else [])
    assert list(f["param_names"]) == names
    slices, shapes = f["param_slices"], json.loads(str(f["param_shapes"]))
    assert slices[0, 0] == 0 and slices[-1, 1] == P and np.all(slices[1:, 0] == slices[:-1, 1])
    for name, (start, stop) in zip(names, slices):
        assert int(np.prod(shapes[name], dtype=int)) == stop - start, name
    assert f["element_names"].shape == (P,) and f["element_names"][0] == "W1[0,0]"
    assert f["inv_metric"].shape == (chains, P) and f["final_step_size"].shape == (chains,)
    return P


@pytest.mark.parametrize("options, says", [
    ([], "adapted in warm-up"),
    (["--kernel", "nuts"], "NUTS, mean tree depth"),
    (["--n-steps", "12"], "12 leapfrog steps (fixed"),
])
def test_summary_prints_the_trajectory(tmp_path, capsys, options, says):
    out = tmp_path / "t.npz"
    assert main(["run", *TINY, *options, "--out", str(out)]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("trajectories:")]
    assert len(line) == 1 and says in line[0], line
    with np.load(out) as f:
        steps = f["stat_n_steps"]
        assert f"{steps.mean():.1f}" in line[0]  # the mean number of steps of the stored draws
        assert json.loads(str(f["options"]))["kernel"] == ("nuts" if "nuts" in options else "hmc")


def test_demo_run_writes_npz(tmp_path, capsys):
    out = tmp_path / "demo.npz"
    assert main(["run", *TINY, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "symhmc HMC summary" in printed and "gradient evaluations" in printed and str(out) in printed
    with np.load(out) as f:
        _check_layout(f, 2, 30, (1, 5, 1), noise_param=True)
        X, y = demo_regression()
        np.testing.assert_array_equal(f["X"], X)
        np.testing.assert_array_equal(f["y"], y)
        assert bool(f["standardized"]) and float(f["y_scale"]) > 0 and f["x_scale"].shape == (1,)
        for key in ("predict_mean", "predict_sd", "predict_sd_obs"):
            assert f[key].shape == (200,) and np.all(np.isfinite(f[key])), key
        assert np.all(f["predict_sd"] >= 0) and np.all(f["predict_sd_obs"] >= f["predict_sd"])
        assert f["predict_quantiles"].shape == (3, 200)
        assert f["grid_x"].shape == f["grid_mean"].shape == (121,)
        opts = json.loads(str(f["options"]))
        assert opts["chains"] == 2 and opts["draws"] == 30 and opts["hidden"] == [5]
        assert opts["noise"] == "infer" and opts["data"] is None
        assert bool(f["canonical"]) == opts["canonicalize"]
        assert int(f["gradient_evaluations"]) > 0 and not bool(f["partial"])


def test_csv_run(tmp_path, capsys):
    csv_path = _write_csv(tmp_path / "data.csv")
    out = tmp_path / "csv_draws"  # no .npz suffix: the file is written under exactly this name
    argv = ["run", "--data", str(csv_path), "--target", "y", "--features", "a,b", "--noise", "0.2",
            "--no-standardize", *TINY, "--hidden", "3", "--out", str(out)]
    assert main(argv) == 0
    with np.load(out) as f:
        _check_layout(f, 2, 30, (2, 3, 1), noise_param=False)
        assert list(f["feature_names"]) == ["a", "b"] and str(f["target_name"]) == "y"
        assert f["X"].shape == (40, 2) and not bool(f["standardized"])
        assert float(f["y_scale"]) == 1.0 and np.all(f["x_mean"] == 0)
        assert f["predict_mean"].shape == (40,) and "grid_x" not in f.files
        # fixed noise: observation sd = sqrt(function sd^2 + 0.2^2)
        np.testing.assert_allclose(f["predict_sd_obs"] ** 2, f["predict_sd"] ** 2 + 0.04, rtol=1e-12)
        assert json.loads(str(f["options"]))["noise"] == 0.2


def test_csv_classification_and_same_seed_same_draws(tmp_path):
    csv_path = _write_csv(tmp_path / "data.csv")
    base = ["run", "--data", str(csv_path), "--target", "label", "--features", "a,b",
            "--likelihood", "bernoulli", "--hidden", "none", *TINY[:-3], "--no-progress", "--seed", "3"]
    assert main([*base, "--out", str(tmp_path / "one.npz")]) == 0
    assert main([*base, "--threads", "1", "--out", str(tmp_path / "two.npz")]) == 0
    with np.load(tmp_path / "one.npz") as f, np.load(tmp_path / "two.npz") as g:
        _check_layout(f, 2, 30, (2, 1), noise_param=False)
        np.testing.assert_array_equal(f["draws"], g["draws"])
        p = f["predict_mean"]
        assert p.shape == (40,) and np.all((p >= 0) & (p <= 1))
        assert "predict_sd_obs" not in f.files


def test_demo_data_is_deterministic_with_a_gap():
    X, y = demo_regression()
    X2, y2 = demo_regression()
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert X.shape == (200, 1) and y.shape == (200,)
    x = X[:, 0]
    assert np.all(np.abs(x) <= 3) and np.all(np.abs(x) >= 1)
    assert np.sum(x < 0) == 100
    resid = y - demo_function(x)
    assert 0.07 < resid.std() < 0.13


def test_load_csv_errors(tmp_path):
    good = _write_csv(tmp_path / "good.csv")
    X, y, names = load_csv(good, "y")
    assert names == ["a", "b", "unused", "label"] and X.shape == (40, 4) and y.shape == (40,)
    with pytest.raises(ValueError, match="--data: file not found"):
        load_csv(tmp_path / "missing.csv", "y")
    with pytest.raises(ValueError, match="--target: no column 'z'"):
        load_csv(good, "z")
    with pytest.raises(ValueError, match="--features: no column 'q'"):
        load_csv(good, "y", ["a", "q"])
    bad = tmp_path / "bad.csv"
    bad.write_text("a,y\n1,2\nfoo,3\n")
    with pytest.raises(ValueError, match=r"--data: .*line 3, column 'a': 'foo' is not a number"):
        load_csv(bad, "y")
    gap = tmp_path / "gap.csv"
    gap.write_text("a,y\n1,2\n2,NA\n")
    with pytest.raises(ValueError, match=r"--target: .*line 3, column 'y': missing value"):
        load_csv(gap, "y")
    semi = tmp_path / "semi.csv"
    semi.write_text("a;b;y\n1;2;3\n4;5;6\n")
    X, y, names = load_csv(semi, "y")
    assert names == ["a", "b"] and X.tolist() == [[1, 2], [4, 5]] and y.tolist() == [3, 6]


@pytest.mark.parametrize(
    "extra, option",
    [
        (["--data", "{csv}", "--target", "nope"], "--target"),
        (["--data", "{csv}"], "--target"),
        (["--data", "{dir}/missing.csv", "--target", "y"], "--data"),
        (["--target", "y"], "--target"),
        (["--activation", "softplus"], "--activation"),
        (["--likelihood", "poisson"], "--likelihood"),
        (["--chains", "0"], "--chains"),
        (["--draws", "ten"], "--draws"),
        (["--hidden", "5,-2"], "--hidden"),
        (["--noise", "0"], "--noise"),
        (["--prior-scale", "1,1,1"], "--prior-scale"),
        (["--target-accept", "1.5"], "--target-accept"),
        (["--threads", "0"], "--threads"),
        (["--out", "{dir}/no/such/dir/x.npz"], "--out"),
        (["--likelihood", "bernoulli"], "--target"),  # demo targets are not 0/1 labels
        (["--no-canonicalize", "--sort-key", "bias"], "--sort-key"),
        (["--sort-key", "alphabetical"], "--sort-key"),
        (["--hidden", "none", "--canonicalize"], "--canonicalize"),
        (["--checkpoint", "{dir}"], "--checkpoint"),
        (["--checkpoint", "{dir}/c.ckpt", "--checkpoint-every", "0"], "--checkpoint-every"),
        (["--checkpoint", "{dir}/c.ckpt", "--checkpoint-every", "-1s"], "--checkpoint-every"),
    ],
)
def test_bad_options_exit_2(tmp_path, capsys, extra, option):
    csv_path = _write_csv(tmp_path / "data.csv")
    extra = [e.format(csv=csv_path, dir=tmp_path) for e in extra]
    assert main(["run", *TINY, "--out", str(tmp_path / "x.npz"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert option in err, err
    assert not (tmp_path / "x.npz").exists()


def test_help_and_missing_command(capsys):
    assert main(["run", "--help"]) == 0
    assert "--target-accept" in capsys.readouterr().out
    assert main([]) == 2
    assert "command" in capsys.readouterr().err


def test_python_dash_m(tmp_path):
    out = tmp_path / "m.npz"
    proc = subprocess.run(
        [sys.executable, "-m", "symhmc", "run", *TINY, "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "symhmc HMC summary" in proc.stdout
    with np.load(out) as f:
        assert f["draws"].shape[:2] == (2, 30)
    bad = subprocess.run([sys.executable, "-m", "symhmc", "run", "--chains", "0"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--chains" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_ctrl_c_keeps_partial_draws(tmp_path):
    out = tmp_path / "partial.npz"
    # A background job may inherit an ignored SIGINT; restore Python's handler as a terminal would.
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from symhmc._cli import main; sys.exit(main(sys.argv[1:]))")
    argv = ["run", "--hidden", "5", "--chains", "2", "--warmup", "50", "--draws", "2000", "--thin", "500",
            "--no-progress", "--out", str(out)]  # 10^6 transitions: minutes unless interrupted
    proc = subprocess.Popen([sys.executable, "-c", code, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("sampling:"):
                break
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    with np.load(out) as f:
        assert bool(f["partial"])
        assert f["draws"].shape[0] == 2 and f["draws"].shape[1] < 2000
        assert f["stat_lp"].shape == f["draws"].shape[:2]
        assert int(f["transitions"]) < 50 + 2000 * 500


def test_checkpoint_and_resume(tmp_path, capsys):
    """symhmc resume FILE finishes a checkpointed run as the run itself would have: the same file."""
    out, ckpt = tmp_path / "run.npz", tmp_path / "run.ckpt"
    argv = ["run", *TINY, "--out", str(out), "--checkpoint", str(ckpt), "--checkpoint-every", "7"]
    assert main(argv) == 0
    with np.load(out) as f:
        first = {k: f[k] for k in ("draws", "stat_lp", "predict_mean")}
    out.unlink()
    assert main(["resume", str(ckpt), "--no-progress"]) == 0
    with np.load(out) as f:
        for name, values in first.items():
            assert f[name].tobytes() == values.tobytes(), name
    capsys.readouterr()
    # a checkpoint that the command line did not write, or no checkpoint at all: exit 2, one line
    import symhmc as sh

    sh.sample(sh.GaussianTarget(np.zeros(2), np.ones(2)), chains=1, draws=5, warmup=5, progress=False,
              checkpoint=tmp_path / "py.ckpt")
    for path, says in ((tmp_path / "py.ckpt", "symhmc.resume"), (out, "not a symhmc checkpoint")):
        assert main(["resume", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and says in err, err
