// NUTS on its own: the lockstep state machine against a plain recursive transcription of Stan's
// base_nuts (bitwise), exact moments of a Gaussian, a chain's draws independent of the batch, the
// step counts a tree of a given depth implies, the depth limit, and divergences.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <vector>

#include "check.hpp"
#include "symhmc/nuts.hpp"

using namespace symhmc;
using symhmc_test::Cliff;
using symhmc_test::GaussianF;
using symhmc_test::Gaussian;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

double log_sum_exp(double a, double b) {
  if (a == -kInf) return b;
  if (a == kInf && b == kInf) return kInf;
  return a > b ? a + std::log1p(std::exp(b - a)) : b + std::log1p(std::exp(a - b));
}

// Stan's base_nuts::transition and build_tree transcribed literally (recursion, one chain at a time),
// with p_sharp . rho computed as metric.dot_inverse(p, rho). Chain c of the points z is moved alone.
struct ReferenceNuts {
  using Vec = std::vector<double>;
  struct PsPoint {
    Vec q, g, p;
    double logp = 0;
  };
  const DiagonalMetric& metric;
  Integrator<double>& integrator;
  Points<double>& z;
  std::vector<double>& p_all;
  std::vector<double>& eps_all;
  std::size_t c, P;
  int max_depth;
  double max_deltaH;
  const Philox& rng;
  std::uint64_t it = 0, draws = 0;
  bool divergent = false;

  double uniform() { return Stream(rng, c, it, Purpose::tree).uniform(draws++); }
  PsPoint get() const {
    PsPoint s;
    s.q.assign(z.position(c), z.position(c) + P);
    s.g.assign(z.gradient(c), z.gradient(c) + P);
    s.p.assign(p_all.begin() + long(c * P), p_all.begin() + long((c + 1) * P));
    s.logp = z.logp[c];
    return s;
  }
  void set(const PsPoint& s) {
    std::copy(s.q.begin(), s.q.end(), z.position(c));
    std::copy(s.g.begin(), s.g.end(), z.gradient(c));
    std::copy(s.p.begin(), s.p.end(), p_all.begin() + long(c * P));
    z.logp[c] = s.logp;
  }
  double H(const PsPoint& s) const { return -s.logp + metric.kinetic(c, s.p.data()); }
  bool criterion(const Vec& a, const Vec& b, const Vec& rho) const {
    return metric.dot_inverse(c, b.data(), rho.data()) > 0 && metric.dot_inverse(c, a.data(), rho.data()) > 0;
  }
  static Vec add(const Vec& a, const Vec& b) {
    Vec r(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) r[i] = a[i] + b[i];
    return r;
  }

  bool build_tree(int depth, PsPoint& z_propose, Vec& rho, Vec& p_beg, Vec& p_end, double H0, double sign,
                  int& n_leapfrog, double& log_sum_weight, double& sum_metro_prob, double eps) {
    if (depth == 0) {
      eps_all[c] = sign * eps;
      integrator.step(z, p_all, metric, eps_all.data(), {c});
      ++n_leapfrog;
      PsPoint here = get();
      double h = H(here);
      if (!std::isfinite(h)) h = kInf;
      if (h - H0 > max_deltaH || h == kInf) divergent = true;
      log_sum_weight = log_sum_exp(log_sum_weight, H0 - h);
      sum_metro_prob += H0 - h > 0 ? 1 : std::exp(H0 - h);
      z_propose = here;
      for (std::size_t i = 0; i < P; ++i) rho[i] += here.p[i];
      p_beg = here.p;
      p_end = p_beg;
      return !divergent;
    }
    double log_sum_weight_init = -kInf;
    Vec p_init_end(P), rho_init(P, 0.0);
    if (!build_tree(depth - 1, z_propose, rho_init, p_beg, p_init_end, H0, sign, n_leapfrog, log_sum_weight_init,
                    sum_metro_prob, eps))
      return false;
    PsPoint z_propose_final = get();
    double log_sum_weight_final = -kInf;
    Vec p_final_beg(P), rho_final(P, 0.0);
    if (!build_tree(depth - 1, z_propose_final, rho_final, p_final_beg, p_end, H0, sign, n_leapfrog,
                    log_sum_weight_final, sum_metro_prob, eps))
      return false;
    const double log_sum_weight_subtree = log_sum_exp(log_sum_weight_init, log_sum_weight_final);
    log_sum_weight = log_sum_exp(log_sum_weight, log_sum_weight_subtree);
    if (log_sum_weight_final > log_sum_weight_subtree) {
      z_propose = z_propose_final;
    } else if (uniform() < std::exp(log_sum_weight_final - log_sum_weight_subtree)) {
      z_propose = z_propose_final;
    }
    Vec rho_subtree = add(rho_init, rho_final);
    for (std::size_t i = 0; i < P; ++i) rho[i] += rho_subtree[i];
    bool persist = criterion(p_beg, p_end, rho_subtree);
    persist = persist && criterion(p_beg, p_final_beg, add(rho_init, p_final_beg));
    persist = persist && criterion(p_init_end, p_end, add(rho_final, p_init_end));
    return persist;
  }

  // Returns the info; the chain's point is left at the sample.
  TransitionInfo transition(std::uint64_t iteration, double eps) {
    it = iteration, draws = 0, divergent = false;
    double* pc = p_all.data() + c * P;
    metric.draw_momentum(Stream(rng, c, it, Purpose::momentum), c, pc);
    PsPoint z_fwd = get(), z_bck = z_fwd, z_sample = z_fwd, z_propose = z_fwd;
    Vec p_fwd_fwd = z_fwd.p, p_fwd_bck = z_fwd.p, p_bck_fwd = z_fwd.p, p_bck_bck = z_fwd.p, rho = z_fwd.p;
    double log_sum_weight = 0, H0 = H(z_fwd), sum_metro_prob = 0;
    int n_leapfrog = 0, depth = 0;
    while (depth < max_depth) {
      Vec rho_fwd(P, 0.0), rho_bck(P, 0.0);
      bool valid_subtree;
      double log_sum_weight_subtree = -kInf;
      if (uniform() > 0.5) {
        set(z_fwd);
        rho_bck = rho, p_bck_fwd = p_fwd_fwd;
        valid_subtree = build_tree(depth, z_propose, rho_fwd, p_fwd_bck, p_fwd_fwd, H0, 1, n_leapfrog,
                                   log_sum_weight_subtree, sum_metro_prob, eps);
        z_fwd = get();
      } else {
        set(z_bck);
        rho_fwd = rho, p_fwd_bck = p_bck_bck;
        valid_subtree = build_tree(depth, z_propose, rho_bck, p_bck_fwd, p_bck_bck, H0, -1, n_leapfrog,
                                   log_sum_weight_subtree, sum_metro_prob, eps);
        z_bck = get();
      }
      if (!valid_subtree) break;
      ++depth;
      if (log_sum_weight_subtree > log_sum_weight) {
        z_sample = z_propose;
      } else if (uniform() < std::exp(log_sum_weight_subtree - log_sum_weight)) {
        z_sample = z_propose;
      }
      log_sum_weight = log_sum_exp(log_sum_weight, log_sum_weight_subtree);
      rho = add(rho_bck, rho_fwd);
      bool persist = criterion(p_bck_bck, p_fwd_fwd, rho);
      persist = persist && criterion(p_bck_bck, p_fwd_bck, add(rho_bck, p_fwd_bck));
      persist = persist && criterion(p_bck_fwd, p_fwd_fwd, add(rho_fwd, p_bck_fwd));
      if (!persist) break;
    }
    set(z_sample);
    TransitionInfo info;
    info.accept_prob = sum_metro_prob / n_leapfrog;
    info.energy = H(z_sample);
    info.step_size = eps;
    info.n_steps = std::uint32_t(n_leapfrog);
    info.tree_depth = std::uint32_t(depth);
    info.diverging = divergent;
    return info;
  }
};

// Mean of x and its standard error by batch means (B batches per chain), x: chains x n draws.
void batch_mean(const std::vector<std::vector<double>>& x, int B, double& mean, double& se) {
  double sum = 0, n = 0;
  std::vector<double> means;
  for (const auto& chain : x) {
    const std::size_t len = chain.size() / std::size_t(B);
    for (int b = 0; b < B; ++b) {
      double s = 0;
      for (std::size_t t = 0; t < len; ++t) s += chain[std::size_t(b) * len + t];
      means.push_back(s / double(len));
      sum += s, n += double(len);
    }
  }
  mean = sum / n;
  double v = 0;
  for (double m : means) v += (m - mean) * (m - mean);
  v /= double(means.size() - 1);
  se = std::sqrt(v / double(means.size()));
}

bool same_info(const TransitionInfo& a, const TransitionInfo& b) {
  return a.accept_prob == b.accept_prob && a.energy == b.energy && a.step_size == b.step_size &&
         a.n_steps == b.n_steps && a.tree_depth == b.tree_depth && a.diverging == b.diverging;
}
}  // namespace

int main() {
  // 1. The lockstep machine is Stan's recursion: bitwise the same draws and statistics, chain by chain,
  // on an anisotropic 5-D Gaussian with a non-unit metric and on a target with a cliff (divergences).
  for (int which = 0; which < 2; ++which) {
    Gaussian gauss({1.0, 0.3, 2.0, 5.0, 0.7});
    Cliff cliff(3.0);
    const Target<double>& target = which == 0 ? static_cast<const Target<double>&>(gauss) : cliff;
    const std::size_t C = 3, P = target.dim();
    std::vector<double> inv(C * P);
    for (std::size_t k = 0; k < C * P; ++k) inv[k] = which == 0 ? 0.5 + 0.25 * double(k % 7) : 1.0 + 0.5 * double(k);
    DiagonalMetric metric(C, P, inv);
    Integrator<double> ia(target, 1), ib(target, 1);
    const int max_depth = which == 0 ? 7 : 10;
    Nuts<double> nuts(C, P, max_depth, 1000.0);
    Points<double> za(C, P), zb(C, P);
    for (std::size_t k = 0; k < C * P; ++k) za.q[k] = which == 0 ? 0.3 * double(k % 5) - 0.5 : 2.0 + 0.2 * double(k);
    zb.q = za.q;
    ia.evaluate(za), ib.evaluate(zb);
    std::vector<double> p_ref(C * P), eps_ref(C);
    const double eps[C] = {0.35, 0.2, which == 0 ? 1.4 : 0.9};
    Philox rng(11 + which);
    std::vector<ReferenceNuts> refs;
    for (std::size_t c = 0; c < C; ++c)
      refs.push_back(ReferenceNuts{metric, ib, zb, p_ref, eps_ref, c, P, max_depth, 1000.0, rng});
    TransitionRecord<double> record;
    int mismatches = 0, divergent = 0, rejected_subtrees = 0;
    for (int it = 0; it < 300; ++it) {
      nuts.transition(za, metric, eps, rng, std::uint64_t(it), ia, record);
      for (std::size_t c = 0; c < C; ++c) {
        const TransitionInfo ref = refs[c].transition(std::uint64_t(it), eps[c]);
        bool same = same_info(record.info[c], ref) && za.logp[c] == zb.logp[c];
        for (std::size_t i = 0; i < P; ++i)
          same = same && za.q[c * P + i] == zb.q[c * P + i] && za.grad[c * P + i] == zb.grad[c * P + i];
        if (!same && mismatches++ < 3)
          std::printf("target %d iteration %d chain %zu: nuts (steps %u depth %u div %d) vs reference (%u %u %d)\n",
                      which, it, c, record.info[c].n_steps, record.info[c].tree_depth, int(record.info[c].diverging),
                      ref.n_steps, ref.tree_depth, int(ref.diverging));
        divergent += ref.diverging;
        rejected_subtrees += ref.n_steps != (1u << ref.tree_depth) - 1;
      }
    }
    CHECK(mismatches == 0, "target %d: %d transitions differ from the recursive transcription", which, mismatches);
    CHECK(rejected_subtrees > 0, "target %d: no rejected subtree exercised", which);
    if (which == 1) CHECK(divergent > 0, "cliff: no divergence exercised");
  }

  // 2. Moments of N(0, diag(1, 25)) with a unit metric and a fixed step, 4 chains; standard errors by
  // batch means. Every step taken is counted: evaluations = initial + sum of n_steps.
  {
    const std::size_t C = 4, P = 2;
    Gaussian target({1.0, 5.0});
    Integrator<double> integrator(target, 1);
    DiagonalMetric metric(C, P, std::vector<double>(C * P, 1.0));
    Nuts<double> nuts(C, P, 10, 1000.0);
    Points<double> z(C, P);
    for (std::size_t k = 0; k < C * P; ++k) z.q[k] = 0.5 * double(k) - 1;
    integrator.evaluate(z);
    TransitionRecord<double> record;
    const double eps[C] = {0.5, 0.5, 0.5, 0.5};
    Philox rng(3);
    const int n = 10000;
    std::vector<std::vector<double>> x[2], x2[2];
    for (int i = 0; i < 2; ++i) x[i].assign(C, {}), x2[i].assign(C, {});
    std::size_t steps = 0;
    double accept = 0;
    for (int it = 0; it < n; ++it) {
      nuts.transition(z, metric, eps, rng, std::uint64_t(it), integrator, record);
      for (std::size_t c = 0; c < C; ++c) {
        steps += record.info[c].n_steps;
        accept += record.info[c].accept_prob;
        CHECK(!record.info[c].diverging, "divergence on a Gaussian");
        for (std::size_t i = 0; i < P; ++i) {
          const double v = z.q[c * P + i];
          x[i][c].push_back(v), x2[i][c].push_back(v * v);
        }
      }
    }
    const double var[2] = {1, 25};
    for (int i = 0; i < 2; ++i) {
      double m, se, m2, se2;
      batch_mean(x[i], 50, m, se);
      batch_mean(x2[i], 50, m2, se2);
      CHECK(std::fabs(m) < 4 * se, "mean %d: %g (se %g)", i, m, se);
      CHECK(std::fabs(m2 - var[i]) < 4 * se2, "variance %d: %g (se %g)", i, m2, se2);
    }
    CHECK(integrator.gradient_evaluations() == C + steps, "evaluations %zu, steps %zu",
          integrator.gradient_evaluations(), steps);
    accept /= double(n * C);
    CHECK(accept > 0.7 && accept < 1, "mean acceptance statistic %g", accept);
  }

  // 3. Chain 0 alone and chain 0 among others (other starts, step sizes, metrics) draw bitwise the same.
  {
    Gaussian target({1.0, 2.0});
    Integrator<double> ia(target, 1), ib(target, 1);
    DiagonalMetric ma(1, 2, {1, 2}), mb(4, 2, {1, 2, 2, 2, 3, 3, 0.5, 4});
    Nuts<double> na(1, 2, 10, 1000.0), nb(4, 2, 10, 1000.0);
    Points<double> za(1, 2), zb(4, 2);
    za.q = {0.5, -0.5};
    zb.q = {0.5, -0.5, 1, 1, -2, 0, 3, 3};
    ia.evaluate(za), ib.evaluate(zb);
    TransitionRecord<double> ra, rb;
    const double ea[1] = {0.4}, eb[4] = {0.4, 0.1, 0.7, 1.9};
    Philox rng(5);
    int differ = 0;
    for (int it = 0; it < 300; ++it) {
      na.transition(za, ma, ea, rng, std::uint64_t(it), ia, ra);
      nb.transition(zb, mb, eb, rng, std::uint64_t(it), ib, rb);
      differ += !(za.q[0] == zb.q[0] && za.q[1] == zb.q[1] && za.logp[0] == zb.logp[0] &&
                  same_info(ra.info[0], rb.info[0]));
    }
    CHECK(differ == 0, "chain 0 differs in %d of 300 transitions", differ);
  }

  // 4. Step counts and depths with step 0.1 on N(0, I), where a half period is ~31 steps. Subtrees of
  // depth 0 .. depth-1 make 2^depth - 1 steps; a rejected subtree (an inner U-turn: its frames end on
  // whole halves, so an even number of its steps) adds at most 2^depth more. In 1-D the trajectory
  // turns at the first turning point, which it meets after 0 .. 31 steps: mean depth ~3.35 (the
  // independent tests/nuts_reference.py gives 3.38 on 400 draws). In 50-D the orbit is a near-circle
  // and U-turns at the half period: depth 5 nearly always, ~35 steps.
  for (std::size_t P : {std::size_t(1), std::size_t(50)}) {
    Gaussian target(std::vector<double>(P, 1.0));
    Integrator<double> integrator(target, 1);
    DiagonalMetric metric(2, P, std::vector<double>(2 * P, 1.0));
    Nuts<double> nuts(2, P, 10, 1000.0);
    Points<double> z(2, P);
    integrator.evaluate(z);
    TransitionRecord<double> record;
    const double eps[2] = {0.1, 0.1};
    Philox rng(7);
    double depth_sum = 0, steps_sum = 0;
    int bad = 0, full = 0, rejected = 0;
    const int n = P == 1 ? 2000 : 500;
    for (int it = 0; it < n; ++it) {
      nuts.transition(z, metric, eps, rng, std::uint64_t(it), integrator, record);
      for (const TransitionInfo& info : record.info) {
        depth_sum += info.tree_depth, steps_sum += info.n_steps;
        const std::uint32_t built = (1u << info.tree_depth) - 1, extra = info.n_steps - built;
        if (info.diverging || info.tree_depth < 1 || info.n_steps < built || extra % 2 != 0 ||
            extra > (1u << info.tree_depth))
          ++bad;
        full += extra == 0;
        rejected += extra != 0;
      }
    }
    const double mean_depth = depth_sum / (2.0 * n), mean_steps = steps_sum / (2.0 * n);
    if (P == 1) {
      CHECK(mean_depth > 3.0 && mean_depth < 3.7, "1-D: mean tree depth %g", mean_depth);
      CHECK(full > 0 && rejected > 0, "1-D: full %d, rejected %d", full, rejected);
    } else {
      CHECK(mean_depth > 4.8 && mean_depth < 5.4, "50-D: mean tree depth %g", mean_depth);
      CHECK(mean_steps > 28 && mean_steps < 45, "50-D: mean steps %g", mean_steps);
    }
    CHECK(bad == 0, "%zu-D: %d transitions with an impossible step count", P, bad);
  }

  // 5. max_depth 3: depth <= 3 and at most 7 steps, on the same problem (it wants depth ~5).
  {
    Gaussian target({1.0});
    Integrator<double> integrator(target, 1);
    DiagonalMetric metric(1, 1, {1});
    Nuts<double> nuts(1, 1, 3, 1000.0);
    Points<double> z(1, 1);
    integrator.evaluate(z);
    TransitionRecord<double> record;
    const double eps[1] = {0.1};
    Philox rng(8);
    int at_limit = 0, bad = 0;
    for (int it = 0; it < 500; ++it) {
      nuts.transition(z, metric, eps, rng, std::uint64_t(it), integrator, record);
      const TransitionInfo& info = record.info[0];
      bad += info.tree_depth > 3 || info.n_steps > 7;
      if (info.tree_depth == 3) at_limit++, bad += info.n_steps != 7;
    }
    CHECK(bad == 0, "%d transitions beyond the depth limit", bad);
    CHECK(at_limit > 400, "only %d of 500 at the limit", at_limit);
  }

  // 6. Divergences: a cliff, and a step far beyond the stability limit of a narrow Gaussian. Flagged,
  // and the chain never takes a non-finite point.
  {
    Cliff cliff(3.0);
    Gaussian narrow({0.1});
    for (int which = 0; which < 2; ++which) {
      const Target<double>& target = which == 0 ? static_cast<const Target<double>&>(cliff) : narrow;
      Integrator<double> integrator(target, 1);
      DiagonalMetric metric(2, 1, {1, 1});
      Nuts<double> nuts(2, 1, 10, 1000.0);
      Points<double> z(2, 1);
      z.q = {2.5, which == 0 ? 2.9 : 0.05};
      integrator.evaluate(z);
      TransitionRecord<double> record;
      const double eps[2] = {which == 0 ? 0.3 : 1.0, which == 0 ? 0.8 : 3.0};
      Philox rng(9);
      int divergent = 0, escaped = 0;
      for (int it = 0; it < 300; ++it) {
        nuts.transition(z, metric, eps, rng, std::uint64_t(it), integrator, record);
        for (std::size_t c = 0; c < 2; ++c) {
          divergent += record.info[c].diverging;
          escaped += !(std::isfinite(z.logp[c]) && std::isfinite(z.q[c]) && std::isfinite(z.grad[c]) &&
                       std::isfinite(record.info[c].energy) && (which == 1 || z.q[c] <= 3));
        }
      }
      CHECK(divergent > 0, "target %d: no divergence flagged", which);
      CHECK(escaped == 0, "target %d: %d non-finite or out-of-support draws", which, escaped);
    }
  }

  // 7. float: runs, stays finite, roughly right variance on N(0, diag(1, 4)).
  {
    const std::size_t C = 2, P = 2;
    GaussianF target({1.0, 2.0});
    Integrator<float> integrator(target, 1);
    DiagonalMetric metric(C, P, std::vector<double>(C * P, 1.0));
    Nuts<float> nuts(C, P, 10, 1000.0);
    Points<float> z(C, P);
    integrator.evaluate(z);
    TransitionRecord<float> record;
    const double eps[C] = {0.6, 0.8};
    Philox rng(10);
    double s2[2] = {0, 0};
    const int n = 3000;
    for (int it = 0; it < n; ++it) {
      nuts.transition(z, metric, eps, rng, std::uint64_t(it), integrator, record);
      for (std::size_t c = 0; c < C; ++c)
        for (std::size_t i = 0; i < P; ++i) s2[i] += double(z.q[c * P + i]) * double(z.q[c * P + i]);
    }
    CHECK(std::fabs(s2[0] / (n * C) - 1) < 0.15, "float variance 0: %g", s2[0] / (n * C));
    CHECK(std::fabs(s2[1] / (n * C) / 4 - 1) < 0.15, "float variance 1: %g", s2[1] / (n * C));
  }

  if (symhmc_test::failures() == 0) std::printf("test_nuts: all passed\n");
  return symhmc_test::failures();
}
