// The adapters on their own: dual averaging finds the step size of a known acceptance curve, Stan's
// windows, the metric estimators on Gaussian draws (ties averaged), ChEES finding its optimal
// jittered trajectory length of a standard Gaussian, the block ESS of AR(1) chains, and the length
// selection finding the length of best ESS per gradient on a standard Gaussian.
#include <cmath>
#include <cstdint>

#include "check.hpp"
#include "symhmc/adaptation.hpp"
#include "symhmc/integrator.hpp"
#include "symhmc/rng.hpp"
#include "symhmc/static_hmc.hpp"

using namespace symhmc;
using symhmc_test::Gaussian;

namespace {
// HMC on a standard 10-D Gaussian (16 chains, unit metric, step size 0.05) at the adapter's lengths,
// every transition fed back to it: ChEES updates, or the selection with every coordinate as a statistic.
void adapt_on_gaussian(const TrajectoryAdapter& adapter, TrajectoryAdapter::State& s, std::uint64_t seed,
                       std::uint64_t iterations) {
  const std::size_t C = 16, P = 10;
  Gaussian target(std::vector<double>(P, 1.0));
  Integrator<double> integrator(target, 1);
  DiagonalMetric metric(C, P, std::vector<double>(C * P, 1.0));
  StaticHmc<double> hmc(C, P, 1000.0);
  Points<double> z(C, P);
  Philox rng(seed);
  for (std::size_t c = 0; c < C; ++c) Stream(rng, c, 0, Purpose::init).normals(z.position(c), P, 0);
  integrator.evaluate(z);
  TransitionRecord<double> record;
  std::vector<double> eps(C, 0.05);
  std::vector<std::uint32_t> steps(C);
  for (std::uint64_t it = 0; it < iterations; ++it) {
    for (std::size_t c = 0; c < C; ++c) steps[c] = adapter.steps(s, true, it, eps[c]);
    hmc.transition(z, metric, eps.data(), steps.data(), rng, it, integrator, record);
    if (adapter.selecting(it))
      adapter.select(s, it, record, z.q.data(), P, false);
    else
      adapter.learn(s, it, record, metric);
  }
}
}  // namespace

int main() {
  // Dual averaging: with acceptance exp(-eps), the target 0.8 is met at eps = -log(0.8).
  {
    DualAveraging da;
    DualAveraging::State s = DualAveraging::restart(1.0);
    double eps = 1.0;
    for (int t = 0; t < 2000; ++t) eps = da.learn(s, std::exp(-eps));
    const double want = -std::log(0.8);
    // Deterministic feedback, but the iterates approach the root slowly (h_bar ~ 1/t times sqrt(t)).
    CHECK(std::fabs(DualAveraging::final_step(s) / want - 1) < 0.05, "final step %g, want %g",
          DualAveraging::final_step(s), want);
  }
  // Stan's schedule for 1000 warm-up iterations: slow windows end at 99, 149, 249, 449 and 949.
  {
    WindowSchedule w(1000);
    int ends = 0;
    for (std::size_t it = 0; it < 1000; ++it) ends += w.window_ends(it);
    CHECK(ends == 5 && w.window_ends(99) && w.window_ends(149) && w.window_ends(249) && w.window_ends(449) &&
              w.window_ends(949),
          "window ends");
    CHECK(!w.in_slow_window(74) && w.in_slow_window(75) && w.in_slow_window(949) && !w.in_slow_window(950), "windows");
  }
  // The metric from exact Gaussian draws, coordinates 0 and 1 tied: their variances averaged.
  {
    const std::vector<double> var{1.0, 3.0, 0.01};
    MetricAdapter adapter({0, 0, 1});
    MetricAdapter::State s = MetricAdapter::initial(1, 3);
    Philox rng(7);
    double q[3];
    const int n = 20000;
    for (int t = 0; t < n; ++t) {
      Stream(rng, 0, t, Purpose::momentum).normals(q, 3, 0);
      for (int i = 0; i < 3; ++i) q[i] *= std::sqrt(var[i]);
      adapter.add(s, 1, 3, q);
    }
    double inverse[3] = {1, 1, 1};
    adapter.estimate(s, 0, 3, inverse);
    // 20000 draws: the variance's relative sd is sqrt(2 / 20000) = 1%; 3% is 3 sd (shrinkage adds 0.025%).
    CHECK(std::fabs(inverse[0] / 2.0 - 1) < 0.03 && inverse[0] == inverse[1], "tied %g want 2", inverse[0]);
    CHECK(std::fabs(inverse[2] / 0.01 - 1) < 0.03, "untied %g want 0.01", inverse[2]);
  }
  // Halton jitter: 1/2, 1/4, 3/4, 1/8, ... never 0.
  CHECK(TrajectoryAdapter::jitter(0) == 0.5 && TrajectoryAdapter::jitter(1) == 0.25 &&
            TrajectoryAdapter::jitter(2) == 0.75 && TrajectoryAdapter::jitter(3) == 0.125,
        "halton");
  // ChEES per unit length on a standard Gaussian with a unit metric: the squared-distance change
  // after time t has variance proportional to sin^2 t, so with t = h T, h uniform, the criterion per
  // length (1/2 - sin(2T)/(4T)) / T peaks at T = pi/2.
  {
    TrajectoryAdapter adapter;
    TrajectoryAdapter::State s = TrajectoryAdapter::initial(16, 10);
    s.log_length = s.log_length_avg = std::log(0.5);
    adapt_on_gaussian(adapter, s, 11, 1500);
    const double T = TrajectoryAdapter::length(s, false);
    CHECK(T > 1.3 && T < 1.9, "ChEES length %g, optimum pi/2", T);
    std::printf("ChEES length %g (optimum %g)\n", T, 2 * std::atan(1.0));
  }
  // Block ESS of AR(1) chains with autocorrelation 0.5: integrated time (1 + 0.5) / (1 - 0.5) = 3.
  // A random walk never decorrelates within the block: no score.
  {
    const std::size_t n = 2000, C = 4;
    std::vector<double> ar(n * C), walk(n * C);
    Philox rng(5);
    for (std::size_t c = 0; c < C; ++c) {
      std::vector<double> e(n);
      Stream(rng, c, 0, Purpose::momentum).normals(e.data(), n, 0);
      double a = e[0], w = 0;
      for (std::size_t t = 0; t < n; ++t) {
        if (t > 0) a = 0.5 * a + std::sqrt(0.75) * e[t];
        w += e[t];
        ar[t * C + c] = a, walk[t * C + c] = w;
      }
    }
    // The estimated time's relative sd is about sqrt(2 (2 M + 1) / (n C)) = 7% with a window M = 10.
    const double ess = block_ess(ar.data(), n, C, 1), want = double(n * C) / 3;
    CHECK(std::fabs(ess / want - 1) < 0.2, "AR(1) ESS %g, want %g", ess, want);
    CHECK(block_ess(walk.data(), n, C, 1) == 0, "random walk scored");
  }
  // Length selection on a standard Gaussian with a unit metric: a jittered trajectory of length h T
  // moves a coordinate to cos(hT) q + sin(hT) p, so the autocorrelation is (sin T / T)^k and the ESS
  // per gradient is proportional to (1 - r) / ((1 + r) T) with r = sin T / T. Over T = 2^k it peaks at
  // T = 4 (0.37, against 0.19 at T = 2 and 0.10 at T = 8): starting from T = 1, the climb must end at 4.
  {
    TrajectoryAdapter adapter;
    adapter.select_from = 0, adapter.select_to = 800, adapter.block_length = 100;
    TrajectoryAdapter::State s = TrajectoryAdapter::initial(16, 10);
    s.base_log_length = s.log_length = s.log_length_avg = 0;
    adapt_on_gaussian(adapter, s, 13, 800);
    const double T = TrajectoryAdapter::length(s, false);
    CHECK(std::fabs(T - 4) < 1e-9, "selected length %g, optimum 4", T);
    std::printf("selected length %g (optimum of 2^k: 4)\n", T);
  }
  return symhmc_test::failures();
}
