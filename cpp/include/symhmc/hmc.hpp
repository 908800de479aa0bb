// Static HMC for many chains in lockstep. Roles follow Stan's src/stan/mcmc: the point (q, p, gradient,
// log density) of every chain, the diagonal metric, the leapfrog integrator, the Metropolis transition
// and, apart from them, the adapters (adapt.hpp). One batched call to the target evaluates all chains
// at every leapfrog step.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "symhmc/adapt.hpp"
#include "symhmc/rng.hpp"
#include "symhmc/symmetry.hpp"
#include "symhmc/target.hpp"

namespace symhmc {

struct HmcSettings {
  std::size_t n_steps = 16;          // leapfrog steps per transition (before jitter)
  double step_jitter = 0.1;          // step size times U(1 - j, 1 + j), per chain and iteration
  double length_jitter = 0.2;        // steps uniform in [ceil((1 - j) n), n], same for all chains
  double target_accept = 0.8;        // dual averaging target
  double max_energy_error = 1000.0;  // above this (or non-finite) a transition is divergent
  bool adapt_step_size = true;
  bool adapt_metric = true;
  std::size_t init_buffer = 75, term_buffer = 50, base_window = 25;
  int threads = 0;
};

// Everything needed to continue a run exactly: positions, tuning and adaptation state, the clock.
struct HmcState {
  std::size_t chains = 0, dim = 0;
  std::uint64_t seed = 0;
  std::uint64_t iteration = 0;  // transitions done so far, warm-up included
  std::uint64_t warmup = 0;     // warm-up transitions of this run
  std::vector<double> position;     // chains x dim
  std::vector<double> step_size;    // chains: the step size in use
  std::vector<double> inv_metric;   // chains x dim: diagonal inverse mass matrix
  std::vector<double> da_mu, da_h_bar, da_log_eps_bar, da_count;  // chains: dual averaging
  double welford_n = 0;
  std::vector<double> welford_mean, welford_m2;  // chains x dim
};

// Statistics of one stored draw, per chain.
struct DrawStats {
  double accept_prob, step_size, logp, energy;
  std::uint32_t n_steps;
  bool diverging;
};

// Where draws go: caller-owned arrays (numpy arrays or memory maps), chains x capacity x dim.
template <class T>
struct DrawSink {
  T* draws = nullptr;           // chains x capacity x dim
  DrawStats* stats = nullptr;   // chains x capacity
  std::size_t capacity = 0;
  std::size_t written = 0;      // draws stored per chain so far
};

template <class T>
class HmcSampler {
 public:
  // A fresh state: chains start at init (chains x dim), unit metric, step size found by the Stan
  // heuristic at the first iteration.
  static HmcState initial_state(std::size_t chains, std::size_t dim, std::uint64_t seed, std::uint64_t warmup,
                                const double* init);

  // With a symmetry, every stored draw is mapped to its canonical representative. The chains'
  // dynamic state stays continuous (adaptation sees the unfolded path); since the kernel commutes with
  // the group (tied metric), the stored draws have the law of canonicalized draws (DESIGN.md).
  HmcSampler(const Target<T>& target, HmcSettings settings, HmcState state,
             const Symmetry<T>* symmetry = nullptr);

  // Runs up to n_transitions transitions. After warm-up, every thin-th one is stored in sink.
  // progress(done) is called after every transition; returning false stops the run early (the
  // state then holds the last completed transition). Returns the number of transitions done.
  std::size_t run(std::size_t n_transitions, std::size_t thin, DrawSink<T>& sink,
                  const std::function<bool(std::size_t)>& progress);

  const HmcState& state() const { return state_; }
  // Replica exchange moves whole points between chains: it reads the current points and writes them
  // back permuted, with their log densities and gradients (which it recomputes for the new chains).
  const std::vector<T>& positions() const { return q_; }
  void set_points(const std::vector<T>& q, const std::vector<T>& logp, const std::vector<T>& grad);
  // Statistics of the last transition of every chain.
  const std::vector<DrawStats>& last_stats() const { return stats_; }
  std::size_t divergences() const { return divergences_; }
  // Seconds spent inside target evaluations, for overhead accounting.
  double gradient_seconds() const { return gradient_seconds_; }
  std::size_t gradient_evaluations() const { return gradient_evals_; }

 private:
  void evaluate(const std::vector<T>& q, std::vector<T>& logp, std::vector<T>& grad);
  void find_initial_step_sizes(std::uint64_t iteration);
  // One lockstep transition of every chain; fills per-chain stats.
  void transition(std::uint64_t iteration, std::vector<DrawStats>& stats);
  void adapt(std::uint64_t iteration, const std::vector<DrawStats>& stats);
  void update_momentum_scale();  // after every metric change

  const Target<T>& target_;
  const Symmetry<T>* symmetry_;
  HmcSettings settings_;
  HmcState state_;
  Philox rng_;
  DualAveraging dual_averaging_;
  WindowSchedule windows_;
  std::vector<int> ties_;
  std::size_t divergences_ = 0, gradient_evals_ = 0;
  double gradient_seconds_ = 0;
  bool step_sizes_found_ = false;
  // Working memory, O(chains x dim).
  std::vector<T> q_, grad_, logp_, q_new_, p_, grad_new_, logp_new_;
  std::vector<DrawStats> stats_;
  std::vector<double> momentum_scale_;  // chains x dim: 1 / sqrt(inv_metric), the momentum sd
};

extern template class HmcSampler<double>;
extern template class HmcSampler<float>;

}  // namespace symhmc
