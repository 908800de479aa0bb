// The integrator on a Gaussian: second-order energy error, exact reversibility, and chains evaluated
// alone matching chains evaluated in a batch.
#include <cmath>
#include <cstdint>

#include "check.hpp"
#include "symhmc/integrator.hpp"

using namespace symhmc;
using symhmc_test::Gaussian;

namespace {
// Largest |H(t) - H(0)| over n steps of size eps from q = 1, p = 1 (one chain, standard 1-D Gaussian).
double max_energy_error(double eps, int n) {
  Gaussian target({1.0});
  Integrator<double> integrator(target, 1);
  DiagonalMetric metric(1, 1, {1.0});
  Points<double> z(1, 1);
  z.q[0] = 1.0;
  integrator.evaluate(z);
  std::vector<double> p{1.0};
  const double h0 = -z.logp[0] + metric.kinetic(0, p.data());
  double worst = 0;
  const std::vector<std::size_t> all{0};
  for (int i = 0; i < n; ++i) {
    integrator.step(z, p, metric, &eps, all);
    worst = std::fmax(worst, std::fabs(-z.logp[0] + metric.kinetic(0, p.data()) - h0));
  }
  return worst;
}
}  // namespace

int main() {
  // Second order: halving the step divides the energy error by about 4.
  const double e1 = max_energy_error(0.2, 100);
  const double e2 = max_energy_error(0.1, 200);
  CHECK(e1 / e2 > 3.5 && e1 / e2 < 4.5, "leapfrog error ratio %g", e1 / e2);

  // Reversibility: n steps forward, then n steps with -eps, return to the start (to rounding).
  {
    Gaussian target({0.5, 2.0, 1.0});
    Integrator<double> integrator(target, 1);
    DiagonalMetric metric(1, 3, {0.3, 3.0, 1.0});
    Points<double> z(1, 3);
    z.q = {0.4, -1.0, 2.0};
    integrator.evaluate(z);
    const std::vector<double> q0 = z.q;
    std::vector<double> p{1.0, -0.5, 0.25};
    const std::vector<std::size_t> all{0};
    double eps = 0.15;
    for (int i = 0; i < 40; ++i) integrator.step(z, p, metric, &eps, all);
    eps = -eps;
    for (int i = 0; i < 40; ++i) integrator.step(z, p, metric, &eps, all);
    for (int i = 0; i < 3; ++i) CHECK(std::fabs(z.q[i] - q0[i]) < 1e-12, "coordinate %d: %g", i, z.q[i] - q0[i]);
  }

  // Three chains of a 2-D Gaussian with their own metrics and step sizes, twice, for comparisons.
  Gaussian target({1.0, 2.0});
  const DiagonalMetric metric(3, 2, {1, 1, 2, 2, 0.5, 0.5});
  const double eps[3] = {0.1, 0.2, 0.3};
  const auto start = [&](Integrator<double>& integrator, Points<double>& z, std::vector<double>& p) {
    z = Points<double>(3, 2);
    z.q = {0.1, 0.2, -0.3, 0.4, 1.0, -1.0};
    integrator.evaluate(z);
    p = {1, 2, 3, 4, 5, 6};
  };
  // A chain stepped with others left out of the batch moves exactly as in a full batch; left-out
  // chains do not move, and only the stepped chains are counted as evaluations.
  {
    Integrator<double> a(target, 1), b(target, 1);
    Points<double> za, zb;
    std::vector<double> pa, pb;
    start(a, za, pa), start(b, zb, pb);
    const std::vector<std::size_t> all{0, 1, 2}, some{0, 2};
    a.step(za, pa, metric, eps, all);
    b.step(zb, pb, metric, eps, some);
    for (std::size_t c : some)
      for (int i = 0; i < 2; ++i) CHECK(za.q[c * 2 + i] == zb.q[c * 2 + i] && pa[c * 2 + i] == pb[c * 2 + i], "chain %zu", c);
    CHECK(zb.q[2] == -0.3 && zb.q[3] == 0.4 && pb[2] == 3 && pb[3] == 4, "a left-out chain moved");
    CHECK(b.gradient_evaluations() == 3 + 2, "evaluations %zu", b.gradient_evaluations());
  }
  // A trajectory with merged half kicks matches single steps (to rounding), each chain with its own
  // number of steps; a chain with none does not move.
  {
    Integrator<double> a(target, 1), b(target, 1);
    Points<double> za, zb;
    std::vector<double> pa, pb;
    start(a, za, pa), start(b, zb, pb);
    const std::uint32_t steps[3] = {5, 0, 3};
    a.trajectory(za, pa, metric, eps, steps);
    for (std::size_t c = 0; c < 3; ++c)
      for (std::uint32_t s = 0; s < steps[c]; ++s) b.step(zb, pb, metric, eps, {c});
    for (int i = 0; i < 6; ++i)
      CHECK(std::fabs(za.q[i] - zb.q[i]) < 1e-13 && std::fabs(pa[i] - pb[i]) < 1e-13, "entry %d: %g %g", i,
            za.q[i] - zb.q[i], pa[i] - pb[i]);
    CHECK(za.q[2] == -0.3 && pa[2] == 3, "a chain without steps moved");
    CHECK(a.gradient_evaluations() == 3 + 8, "evaluations %zu", a.gradient_evaluations());
  }
  return symhmc_test::failures();
}
