// Parallel tempering (replica exchange) over power posteriors pi_beta = pi_0 L^beta,
// 0 = beta_0 < ... < beta_{R-1} = 1, for many independent chains at once.
//
// Every transition: one HMC step of every (chain, replica) pair in one batched gradient call (each
// replica with its own adapted step size and metric), then swaps between neighbouring replicas with
// the non-reversible deterministic even/odd scheme (Syed et al. 2022) or, for comparison, the
// reversible one. During warm-up the schedule is moved, in rounds of doubling length, so that every
// neighbouring pair has the same rejection rate (equal shares of the communication barrier Lambda).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "symhmc/hmc.hpp"
#include "symhmc/symmetry.hpp"
#include "symhmc/target.hpp"

namespace symhmc {

struct TemperingSettings {
  bool adapt_schedule = true;
  bool reversible = false;  // false: deterministic even/odd (DEO) swaps
};

// The exchange state besides the HMC state of the chains x replicas points.
struct TemperingState {
  std::size_t chains = 0, replicas = 0;
  std::uint64_t chain_offset = 0;             // global index of chain 0 (its swaps' random key)
  std::vector<double> betas;                  // replicas, increasing from 0 to 1
  std::vector<std::int64_t> replica_at;       // chains x replicas: which replica label sits at each beta
  std::vector<std::int8_t> trip;              // chains x replicas (by label): 0 none, 1 left beta=0, 2 reached 1
  std::vector<std::int64_t> round_trips;      // chains
  std::vector<double> reject_sum;             // replicas - 1: rejection rates summed since the last update
  double reject_count = 0;                    // transitions summed in reject_sum
  std::vector<double> accept_sum;             // replicas - 1: acceptance summed over the sampling phase
  double accept_count = 0;
};

template <class T>
class TemperingSampler {
 public:
  static TemperingState initial_state(std::size_t chains, std::vector<double> betas);

  // hmc_state covers chains x replicas points, replica r of chain c at index c * replicas + r.
  TemperingSampler(const Target<T>& target, HmcSettings hmc_settings, HmcState hmc_state,
                   TemperingSettings settings, TemperingState state, const Symmetry<T>* symmetry = nullptr);
  ~TemperingSampler();

  // Runs up to n_transitions; after warm-up, every thin-th transition stores the beta = 1 draws
  // (all replicas when draws_all is not null: chains x capacity x replicas x dim) and their stats;
  // every post-warm-up transition records each replica's log likelihood in loglik_trace
  // (chains x trace_capacity x replicas), used for the evidence. progress(done) false stops;
  // interrupt() true abandons the transition under way (see HmcSampler::run).
  std::size_t run(std::size_t n_transitions, std::size_t thin, DrawSink<T>& target_draws, T* draws_all,
                  double* loglik_trace, std::size_t trace_capacity, std::size_t* trace_written,
                  const std::function<bool(std::size_t)>& progress, const std::function<bool()>& interrupt = {});

  const TemperingState& state() const { return state_; }
  HmcSampler<T>& hmc() { return *hmc_; }

 private:
  class Tempered;  // the target seen by HMC: pi_0 L^beta per point
  void exchange(std::uint64_t iteration, bool sampling);
  void update_schedule();

  const Target<T>& base_;
  TemperingSettings settings_;
  TemperingState state_;
  const Symmetry<T>* symmetry_;
  std::unique_ptr<Tempered> tempered_;
  std::unique_ptr<HmcSampler<T>> hmc_;
  Philox rng_;
  std::uint64_t warmup_;
  int threads_;
  // Split densities at the current points, refreshed after every HMC step.
  std::vector<T> log_ref_, log_lik_, grad_ref_, grad_lik_;
  Points<T> z_;
};

// A schedule of n betas with equal shares of the communication barrier: Lambda(beta) interpolated
// linearly between the cumulative rejection rates at the given betas, inverted at k / (n - 1) of its
// total (Syed et al. 2022). rejection: one rate per neighbouring pair of betas.
std::vector<double> equal_barrier_schedule(const std::vector<double>& betas, const std::vector<double>& rejection,
                                           std::size_t n);

// Iterations after which the warm-up schedule is updated: rounds of 8, 16, 32, ... transitions,
// stopping before the last 20% of warm-up so that step sizes settle on the final schedule.
bool schedule_update_due(std::uint64_t iteration, std::uint64_t warmup);

extern template class TemperingSampler<double>;
extern template class TemperingSampler<float>;

}  // namespace symhmc
