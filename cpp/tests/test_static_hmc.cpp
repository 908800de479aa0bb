// Static HMC on its own: exact moments of a Gaussian, per-chain step counts honoured, a chain's
// draws independent of the other chains in the batch, and divergences rejected.
#include <cmath>
#include <cstdint>
#include <limits>

#include "check.hpp"
#include "symhmc/static_hmc.hpp"

using namespace symhmc;
using symhmc_test::Cliff;
using symhmc_test::Gaussian;


int main() {
  // Moments of N(0, diag(1, 9)) from 4 chains x 20000 transitions; steps differ by chain.
  {
    const std::size_t C = 4, P = 2;
    Gaussian target({1.0, 3.0});
    Integrator<double> integrator(target, 1);
    DiagonalMetric metric(C, P, {1, 9, 1, 9, 1, 9, 1, 9});
    StaticHmc<double> hmc(C, P, 1000.0);
    Points<double> z(C, P);
    integrator.evaluate(z);
    TransitionRecord<double> record;
    const double eps[C] = {0.3, 0.4, 0.5, 0.6};
    const std::uint32_t steps[C] = {3, 4, 5, 7};
    Philox rng(3);
    double sum[2] = {0, 0}, sum2[2] = {0, 0};
    const int n = 20000;
    for (int it = 0; it < n; ++it) {
      hmc.transition(z, metric, eps, steps, rng, it, integrator, record);
      for (std::size_t c = 0; c < C; ++c) {
        CHECK(record.info[c].n_steps == steps[c], "steps");
        for (std::size_t i = 0; i < P; ++i) sum[i] += z.q[c * P + i], sum2[i] += z.q[c * P + i] * z.q[c * P + i];
      }
    }
    const double N = double(n * C), var[2] = {1, 9};
    for (int i = 0; i < 2; ++i) {
      // Draws are nearly independent at these lengths: 5 standard errors of an iid mean / variance.
      const double mean = sum[i] / N, v = sum2[i] / N - mean * mean;
      CHECK(std::fabs(mean) < 5 * std::sqrt(var[i] / N), "mean %d: %g", i, mean);
      CHECK(std::fabs(v / var[i] - 1) < 5 * std::sqrt(2.0 / N) * 2, "variance %d: %g", i, v);
    }
    CHECK(integrator.gradient_evaluations() == C + std::size_t(n) * (3 + 4 + 5 + 7), "evaluations %zu",
          integrator.gradient_evaluations());
  }
  // Chain 0 alone and chain 0 among others draw bitwise the same.
  {
    Gaussian target({1.0, 2.0});
    Integrator<double> ia(target, 1), ib(target, 1);
    DiagonalMetric ma(1, 2, {1, 1}), mb(3, 2, {1, 1, 2, 2, 3, 3});
    StaticHmc<double> ha(1, 2, 1000.0), hb(3, 2, 1000.0);
    Points<double> za(1, 2), zb(3, 2);
    za.q = {0.5, -0.5};
    zb.q = {0.5, -0.5, 1, 1, -2, 0};
    ia.evaluate(za), ib.evaluate(zb);
    TransitionRecord<double> ra, rb;
    const double ea[1] = {0.4}, eb[3] = {0.4, 0.1, 0.7};
    const std::uint32_t sa[1] = {6}, sb[3] = {6, 9, 2};
    Philox rng(5);
    for (int it = 0; it < 200; ++it) {
      ha.transition(za, ma, ea, sa, rng, it, ia, ra);
      hb.transition(zb, mb, eb, sb, rng, it, ib, rb);
      CHECK(za.q[0] == zb.q[0] && za.q[1] == zb.q[1], "iteration %d", it);
    }
  }
  // A trajectory into the cliff is divergent and rejected; the chain stays finite.
  {
    Cliff target(2.0);
    Integrator<double> integrator(target, 1);
    DiagonalMetric metric(1, 1, {1});
    StaticHmc<double> hmc(1, 1, 1000.0);
    Points<double> z(1, 1);
    z.q[0] = 1.9;
    integrator.evaluate(z);
    TransitionRecord<double> record;
    const double eps[1] = {0.5};
    const std::uint32_t steps[1] = {20};
    Philox rng(9);
    int divergent = 0;
    for (int it = 0; it < 200; ++it) {
      hmc.transition(z, metric, eps, steps, rng, it, integrator, record);
      divergent += record.info[0].diverging;
      CHECK(std::isfinite(z.logp[0]) && z.q[0] <= 2, "left the support: %g", z.q[0]);
      if (record.info[0].diverging) CHECK(record.info[0].accept_prob == 0, "divergent but accepted");
    }
    CHECK(divergent > 0, "no divergence seen");
  }
  return symhmc_test::failures();
}
