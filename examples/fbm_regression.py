"""Neal's FBM regression example ("Ex-netgp-r") with a hierarchical prior at its defaults.

One input, 8 tanh units, Gamma hyperpriors on the precisions of the input weights, hidden biases,
hidden-to-output weights (width scaled by 1/sqrt(8)) and the noise; 100 training points with
x ~ N(0, 1) and y = 0.3 + 0.4 x + 0.5 sin(2.7 x) + 1.1 / (1 + x^2) + N(0, 0.1^2). The test error of
the posterior mean prediction, on fresh points inside the training range, is compared with the noise
floor 0.1^2 = 0.0100 (FBM's own runs: 0.00941 +- 0.00123).

    python examples/fbm_regression.py            # about 20 s
    python examples/fbm_regression.py --seeds 5  # several data sets
"""

import argparse
import time

import numpy as np

import symhmc as sh

NOISE_SD = 0.1


def truth(x):
    return 0.3 + 0.4 * x + 0.5 * np.sin(2.7 * x) + 1.1 / (1.0 + x * x)


def data(seed, n_train=100, n_test=1000):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n_train)
    y = truth(x) + NOISE_SD * rng.standard_normal(n_train)
    xt = rng.standard_normal(4 * n_test)
    xt = xt[(xt >= x.min()) & (xt <= x.max())][:n_test]  # inside the training range
    yt = truth(xt) + NOISE_SD * rng.standard_normal(xt.size)
    return x, y, xt, yt


def run(seed, chains=4, warmup=1000, draws=1000):
    x, y, xt, yt = data(seed)
    model = sh.BayesianMLP(x, y, hidden=(8,), noise="infer", prior="hierarchical")  # hyperprior (0.05, 0.5)
    t0 = time.perf_counter()
    res = sh.sample(model, chains=chains, warmup=warmup, draws=draws, seed=seed, progress=False)
    seconds = time.perf_counter() - t0
    squared = (res.predict(xt)["mean"] - yt) ** 2
    return dict(mse=squared.mean(), se=squared.std(ddof=1) / np.sqrt(squared.size), seconds=seconds, res=res)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    print("FBM Ex-netgp-r: 1-8-1 tanh, hierarchical prior at the defaults, 4 chains x (1000 + 1000)")
    print(f"noise floor {NOISE_SD ** 2:.4f}; FBM: 0.00941 +- 0.00123\n")
    print(f"{'seed':>4}  {'test MSE':>9}  {'+-':>7}  {'- floor':>8}  {'sd(W1)':>7}  {'sd(W2)':>7}  {'noise':>6}"
          f"  {'diverg.':>7}  {'seconds':>7}")
    for seed in range(args.seeds):
        r = run(seed)
        hyper = r["res"].hyper
        print(f"{seed:4d}  {r['mse']:9.5f}  {r['se']:7.5f}  {r['mse'] - NOISE_SD ** 2:+8.5f}"
              f"  {np.median(hyper['W1']):7.3f}  {np.median(hyper['W2']):7.3f}  {np.median(hyper['noise']):6.3f}"
              f"  {r['res'].divergences:7d}  {r['seconds']:7.1f}")


if __name__ == "__main__":
    main()
