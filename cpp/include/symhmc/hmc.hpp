// HMC for many chains in lockstep, composed from the roles of Stan's src/stan/mcmc: the points of
// every chain, the diagonal metric (metric.hpp), the integrator (integrator.hpp), a transition
// (static_hmc.hpp or nuts.hpp) that reports what it did (transition.hpp), and adapters that learn
// from those reports during warm-up (adaptation.hpp). The sampler only schedules them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "symhmc/adaptation.hpp"
#include "symhmc/draw_sink.hpp"
#include "symhmc/integrator.hpp"
#include "symhmc/metric.hpp"
#include "symhmc/nuts.hpp"
#include "symhmc/rng.hpp"
#include "symhmc/static_hmc.hpp"
#include "symhmc/symmetry.hpp"
#include "symhmc/target.hpp"

namespace symhmc {

enum class Kernel : int { static_hmc = 0, nuts = 1 };

struct HmcSettings {
  Kernel kernel = Kernel::static_hmc;
  std::size_t n_steps = 0;           // static HMC: steps per transition before jitter; 0: adapted (ChEES)
  double step_jitter = 0.1;          // step size times U(1 - j, 1 + j), per chain and iteration
  double length_jitter = 0.2;        // fixed n_steps: steps uniform in [ceil((1 - j) n), n], same for all chains
  int max_tree_depth = 10;           // NUTS
  double target_accept = 0.8;        // dual averaging target
  double max_energy_error = 1000.0;  // above this (or non-finite) a transition is divergent
  double initial_step_size = 0;      // > 0: the first step size; 0: Stan's heuristic
  bool adapt_step_size = true;
  bool adapt_metric = true;
  std::size_t init_buffer = 75, term_buffer = 50, base_window = 25;
  // Hierarchical priors: false, HMC on the weights given the precisions, which Gibbs steps update
  // between transitions; true, HMC on the weights' marginal (precisions integrated out), the
  // precisions then drawn given each kept point for the record only. Both are exact.
  bool marginal_precisions = false;
  int threads = 0;
};

// Everything needed to continue a run exactly: positions, tuning and adaptation state, the clock.
struct HmcState {
  std::size_t chains = 0, dim = 0;
  std::uint64_t seed = 0;
  std::uint64_t iteration = 0;  // transitions done so far, warm-up included
  std::uint64_t warmup = 0;     // warm-up transitions of this run
  std::uint64_t chain_offset = 0;  // global index of chain 0 (its random stream's key; see rng.hpp)
  std::vector<double> position;     // chains x dim
  std::vector<double> step_size;    // chains: the step size in use (0: not yet found)
  std::vector<double> inv_metric;   // chains x dim: diagonal inverse mass matrix
  std::vector<DualAveraging::State> step_adaptation;  // chains
  MetricAdapter::State metric_adaptation;
  TrajectoryAdapter::State trajectory_adaptation;
  // Hierarchical priors (the target has precision groups): chains x groups precisions in use, empty
  // at the start (then the hyperpriors' means). After a Gibbs step the points' log densities and
  // gradients are updated in place rather than evaluated afresh, so the state keeps them
  // (chains, chains x dim) for a bitwise resume.
  std::vector<double> precisions;
  std::vector<double> point_logp, point_grad;
};

template <class T>
class HmcSampler {
 public:
  // A fresh state: chains start at init (chains x dim), unit metric, step size to be found.
  static HmcState initial_state(std::size_t chains, std::size_t dim, std::uint64_t seed, std::uint64_t warmup,
                                const double* init);

  // With a symmetry, every stored draw is mapped to its canonical representative. The chains'
  // dynamic state stays continuous (adaptation sees the unfolded path); since the kernel commutes with
  // the group (tied metric), the stored draws have the law of canonicalized draws.
  HmcSampler(const Target<T>& target, HmcSettings settings, HmcState state, const Symmetry<T>* symmetry = nullptr);
  ~HmcSampler();

  // Runs up to n_transitions transitions. After warm-up, every thin-th one is stored in sink.
  // progress(done) is called after every transition; returning false stops the run early (the
  // state then holds the last completed transition). interrupt() is polled inside transitions,
  // about every 20 ms: true abandons the transition under way, so the state again holds the last
  // completed one and a resumed run makes the same draws. Returns the number of transitions done.
  std::size_t run(std::size_t n_transitions, std::size_t thin, DrawSink<T>& sink,
                  const std::function<bool(std::size_t)>& progress, const std::function<bool()>& interrupt = {});

  // The resumable state (positions and metric synced into it: O(chains x dim)).
  const HmcState& state();
  std::uint64_t iteration() const { return state_.iteration; }
  // Replica exchange moves whole points between chains: it reads the current points and writes them
  // back permuted, with their log densities and gradients.
  const Points<T>& points() const { return z_; }
  void set_points(const Points<T>& z);
  // Hierarchical priors: chains x groups precisions (empty without); exchange moves rows with points.
  std::vector<double>& precisions() { return state_.precisions; }
  // Statistics of the last transition of every chain.
  const std::vector<DrawStats>& last_stats() const { return stats_; }
  std::size_t divergences() const { return divergences_; }
  Integrator<T>& integrator() { return integrator_; }

 private:
  void find_initial_step_sizes(std::uint64_t iteration);
  bool transition(std::uint64_t iteration, StopCheck& stop);  // false: abandoned, nothing changed
  void adapt(std::uint64_t iteration);
  std::uint64_t gibbs_start() const;     // the first iteration with Gibbs steps
  void gibbs(std::uint64_t iteration);  // hierarchical priors: every chain's precisions given its point

  const Target<T>& target_;
  const std::vector<PrecisionGroup>& groups_;
  const Symmetry<T>* symmetry_;
  HmcSettings settings_;
  HmcState state_;
  Philox rng_;
  Integrator<T> integrator_;
  DiagonalMetric metric_;
  Points<T> z_;
  DualAveraging step_adapter_;
  WindowSchedule windows_;
  MetricAdapter metric_adapter_;
  TrajectoryAdapter trajectory_adapter_;
  std::unique_ptr<StaticHmc<T>> static_hmc_;
  std::unique_ptr<Nuts<T>> nuts_;
  TransitionRecord<T> record_;
  std::vector<double> eps_;
  std::vector<double> summaries_;  // chains x target's summaries: the length selection's statistics
  std::vector<std::uint32_t> n_steps_;
  std::vector<DrawStats> stats_;
  std::size_t divergences_ = 0;
};

extern template class HmcSampler<double>;
extern template class HmcSampler<float>;

}  // namespace symhmc
