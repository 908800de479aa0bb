// Warm-up adaptation, kept apart from the transitions: dual averaging of the step size, windowed
// estimates of the diagonal metric (tied over symmetry orbits), and the trajectory length (ChEES).
// Each adapter reads what a transition reports (transition.hpp) and keeps its whole state in a plain
// struct, so that a run resumed from that state continues bitwise, warm-up included.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "symhmc/metric.hpp"
#include "symhmc/transition.hpp"

namespace symhmc {

// Hoffman & Gelman (2014), Algorithm 5 (Stan's constants but gamma = 0.1); one state per chain.
struct DualAveraging {
  double delta = 0.8, gamma = 0.1, kappa = 0.75, t0 = 10.0;

  struct State {
    double mu = 0, h_bar = 0, log_eps_bar = 0, count = 0;
  };
  // Starts a new adaptation phase around step size eps.
  static State restart(double eps) { return State{std::log(10.0 * eps), 0, 0, 0}; }
  // One update with acceptance statistic alpha; returns the step size to use next.
  double learn(State& s, double alpha) const;
  static double final_step(const State& s) { return std::exp(s.log_eps_bar); }
};

// Stan's warm-up windows: a fast initial buffer (step size only), slow windows doubling in length
// (metric estimated at the end of each), and a fast terminal buffer.
class WindowSchedule {
 public:
  WindowSchedule(std::size_t warmup, std::size_t init_buffer = 75, std::size_t term_buffer = 50,
                 std::size_t base_window = 25);
  bool in_slow_window(std::size_t it) const { return base_ > 0 && it >= init_ && it < warmup_ - term_; }
  bool window_ends(std::size_t it) const;
  std::size_t warmup() const { return warmup_; }
  // The last iteration of every slow window.
  const std::vector<std::size_t>& window_ends() const { return ends_; }

 private:
  std::size_t warmup_, init_ = 0, term_ = 0, base_ = 0;
  std::vector<std::size_t> ends_;
};

// Per-chain running moments of the draws in the current slow window (Welford).
class MetricAdapter {
 public:
  struct State {
    double n = 0;
    std::vector<double> mean, m2;  // chains x dim
  };
  static State initial(std::size_t chains, std::size_t dim);

  // ties[i]: the tie group of coordinate i (one metric value per group); empty for none.
  explicit MetricAdapter(std::vector<int> ties) : ties_(std::move(ties)) {}
  // Adds every chain's position (q: chains x dim).
  template <class T>
  void add(State& s, std::size_t chains, std::size_t dim, const T* q) const;
  // Writes chain c's metric from the window's moments into inverse (in: the previous metric, the
  // shrinkage target) and restarts the window once every chain is done (call reset()).
  void estimate(const State& s, std::size_t c, std::size_t dim, double* inverse) const;
  static void reset(State& s);

 private:
  std::vector<int> ties_;
};

// Trajectory-length adaptation in two stages. First ChEES (Hoffman, Radul & Sountsov 2021), for all
// chains together: stochastic gradient ascent (Adam) on log T of the ChEES criterion per unit of
// length, with each transition's length jittered by a Halton sequence. ChEES measures squared
// distances to a centre. Weight-space means across chains mean nothing when chains sit in different
// symmetric copies, so each chain is centred at its own running mean: its continuous path stays in
// one copy, and the distances, in the metric's units (tied over orbits), are the same in every copy.
// ChEES only finds the scale: it is not an ESS criterion (on a Gaussian it stops at T = pi/2 where
// the ESS per gradient peaks near T = 4), and in weight space it follows directions the predictions
// do not depend on. So, second, the length is selected among powers of two times the ChEES length
// by the ESS per gradient of the target's summary statistics (network outputs), measured in blocks
// of transitions: a climb from the ChEES length towards the better neighbour, restarted from the
// best multiple whenever the metric changes (scores under different metrics do not compare).
class TrajectoryAdapter {
 public:
  struct State {
    double log_length = NAN;      // log of the trajectory length T (integration time); NaN: not set
    double log_length_avg = NAN;  // its average over warm-up: the length used after warm-up
    double adam_m = 0, adam_v = 0, updates = 0;
    double criterion = 0;         // running mean of the ChEES estimate
    double centre_n = 0;
    std::vector<double> centre;   // chains x dim: each chain's running mean
    // Selection: the length is exp(base_log_length) 2^multiple.
    double base_log_length = NAN;  // the ChEES length when the selection started
    double multiple = 0;           // log2 multiple in use
    std::vector<double> tried;     // per multiple tried under the current metric: (multiple, ESS, gradients)
    double settle = 0;             // transitions to skip before the next block (after a metric change)
    double block_gradients = 0;    // gradients of the current block, all chains
    std::vector<double> block;     // the statistics of the current block's draws (draws x chains x statistics)
  };
  static State initial(std::size_t chains, std::size_t dim);

  double learning_rate = 0.025, beta1 = 0.9, beta2 = 0.99, kappa = 0.75;
  std::size_t centre_window = 100;  // the running mean forgets like a mean over this many draws
  std::uint32_t max_steps = 1024;
  // The selection runs on iterations [select_from, select_to) in blocks of block_length; 0: ChEES only.
  std::uint64_t select_from = 0, select_to = 0;
  std::size_t block_length = 0;
  int min_multiple = -4, max_multiple = 10;  // the multiples tried lie in 2^-4 .. 2^10

  // The length in use: the current iterate during warm-up, the average after it.
  static double length(const State& s, bool warmup) { return std::exp(warmup ? s.log_length : s.log_length_avg); }
  // The steps of one chain at this iteration: ceil(h T / eps) with h in (0, 1) from a Halton sequence.
  std::uint32_t steps(const State& s, bool warmup, std::uint64_t iteration, double eps) const;
  // Whether iteration it belongs to the selection stage (adapt with select(), not learn()).
  bool selecting(std::uint64_t it) const { return block_length > 0 && it >= select_from && it < select_to; }
  // One Adam step from a transition's record, then the centres move towards the points kept.
  template <class T>
  void learn(State& s, std::uint64_t iteration, const TransitionRecord<T>& record, const DiagonalMetric& metric) const;
  // Selection stage: adds the statistics (chains x n_stats) of the points after this transition and the
  // gradients it took; scores a block when it is full or the metric changes after this iteration, and
  // sets the multiple of the next block (the best one at the end of the stage).
  template <class T>
  void select(State& s, std::uint64_t iteration, const TransitionRecord<T>& record, const double* stats,
              std::size_t n_stats, bool metric_changes) const;
  // Halton (van der Corput, base 2) point of an iteration, in (0, 1).
  static double jitter(std::uint64_t iteration);
};

// Effective sample size of a block of draws (draws x chains x statistics), averaged over statistics as
// draws x chains / mean integrated autocorrelation time. Each time uses Stan's multi-chain
// autocorrelations (between-chain variance included) and Geyer's initial monotone sequence.
double block_ess(const double* x, std::size_t draws, std::size_t chains, std::size_t n_stats);

}  // namespace symhmc
