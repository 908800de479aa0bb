// The adapters on their own: dual averaging finds the step size of a known acceptance curve, Stan's
// windows, the metric estimators on Gaussian draws (ties averaged), and ChEES finding the optimal
// jittered trajectory length of a standard Gaussian.
#include <cmath>
#include <cstdint>

#include "check.hpp"
#include "symhmc/adaptation.hpp"
#include "symhmc/integrator.hpp"
#include "symhmc/rng.hpp"
#include "symhmc/static_hmc.hpp"

using namespace symhmc;
using symhmc_test::Gaussian;

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
    const std::size_t C = 16, P = 10;
    Gaussian target(std::vector<double>(P, 1.0));
    Integrator<double> integrator(target, 1);
    DiagonalMetric metric(C, P, std::vector<double>(C * P, 1.0));
    StaticHmc<double> hmc(C, P, 1000.0);
    TrajectoryAdapter adapter;
    TrajectoryAdapter::State s = TrajectoryAdapter::initial(C, P);
    s.log_length = s.log_length_avg = std::log(0.5);
    Points<double> z(C, P);
    Philox rng(11);
    for (std::size_t c = 0; c < C; ++c) Stream(rng, c, 0, Purpose::init).normals(z.position(c), P, 0);
    integrator.evaluate(z);
    TransitionRecord<double> record;
    std::vector<double> eps(C, 0.05);
    std::vector<std::uint32_t> steps(C);
    for (std::uint64_t it = 0; it < 1500; ++it) {
      for (std::size_t c = 0; c < C; ++c) steps[c] = adapter.steps(s, true, it, eps[c]);
      hmc.transition(z, metric, eps.data(), steps.data(), rng, it, integrator, record);
      adapter.learn(s, it, record, metric);
    }
    const double T = TrajectoryAdapter::length(s, false);
    CHECK(T > 1.3 && T < 1.9, "ChEES length %g, optimum pi/2", T);
    std::printf("ChEES length %g (optimum %g)\n", T, 2 * std::atan(1.0));
  }
  return symhmc_test::failures();
}
