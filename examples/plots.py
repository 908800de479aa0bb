"""The pictures of a run, written as PNG files (needs matplotlib: pip install "symhmc[plot]").

    python examples/plots.py DIR        # about 10 s; trace.png, predictive.png, modes.png, tempering.png

trace.png is docs/img/trace.png of the README: a 1-3-1 tanh network (examples/symmetry_rhat.py's data),
four chains in different relabelings of the same network, raw against canonical weights.
"""

import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import symhmc as sh  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from symmetry_rhat import data  # noqa: E402


def save(fig, path, dpi=70):
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    from PIL import Image  # matplotlib's own dependency: 64 colours keep the README picture small

    Image.open(path).convert("RGB").quantize(64).save(path, optimize=True)
    print(f"wrote {path} ({os.path.getsize(path) // 1024} KB)")


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    X, y = data()
    model = sh.BayesianMLP(X, y, hidden=(3,), noise=0.1)
    run = dict(chains=4, draws=600, warmup=1000, n_steps=64, seed=1, progress=False)
    raw = sh.sample(model, canonicalize=False, **run)  # the chains as they move
    res = sh.sample(model, **run)                      # the same chains, canonical draws
    save(res.plot_trace(raw=raw), os.path.join(out_dir, "trace.png"), dpi=80)
    save(res.plot_predictive(np.linspace(-4, 4, 200)), os.path.join(out_dir, "predictive.png"))
    pt = sh.sample(model, chains=4, draws=1000, warmup=1000, seed=0, progress=False, tempering=sh.Tempering())
    save(pt.plot_tempering(), os.path.join(out_dir, "tempering.png"))
    save(pt.plot_modes(), os.path.join(out_dir, "modes.png"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "symhmc_plots")
