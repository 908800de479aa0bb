// What a transition reports: per chain, the statistics of the draw (acceptance statistic, energy,
// steps, tree depth, divergence), and the trajectory's start, end and end momentum, which the
// trajectory-length adapter reads. Transitions (static_hmc.hpp, nuts.hpp) fill it; adapters
// (adaptation.hpp) consume it; neither knows the other.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace symhmc {

struct TransitionInfo {
  double accept_prob = 0;         // static HMC: min(1, exp(-dH)); NUTS: its mean over the trajectory
  double energy = 0;              // the Hamiltonian at the point kept
  double step_size = 0;           // the (jittered) step size used
  std::uint32_t n_steps = 0;      // integrator steps taken
  std::uint32_t tree_depth = 0;   // NUTS: doublings of the tree (Stan's treedepth__); static HMC: 0
  bool diverging = false;
};

template <class T>
struct TransitionRecord {
  std::vector<TransitionInfo> info;  // chains
  std::vector<T> start;              // chains x dim: the positions before the transition
  std::vector<T> end;                // chains x dim: the trajectory's last point, accepted or not
  std::vector<T> end_momentum;       // chains x dim: the momentum there

  void resize(std::size_t chains, std::size_t dim) {
    info.resize(chains);
    start.resize(chains * dim);
    end.resize(chains * dim);
    end_momentum.resize(chains * dim);
  }
};

// Lets a long transition stop early (Ctrl-C). Transitions poll it between leapfrog steps; it calls
// `check` at most once per `interval` of wall time (a check may take a lock: Python's GIL), and reads
// the clock only about once per millisecond, so that polling costs nothing next to a cheap step.
class StopCheck {
 public:
  using clock = std::chrono::steady_clock;
  StopCheck() = default;
  explicit StopCheck(std::function<bool()> check, clock::duration interval = std::chrono::milliseconds(20))
      : check_(std::move(check)), interval_(interval), last_(clock::now()), next_(last_ + interval) {}

  // Whether there is anything to poll; transitions skip their checks (and NUTS its copy of the
  // starting points) when there is not.
  bool active() const { return bool(check_); }

  bool operator()() {
    if (!check_ || ++polls_ < stride_) return false;
    polls_ = 0;
    const clock::time_point now = clock::now();
    stride_ = now - last_ < std::chrono::milliseconds(1) ? std::min(2 * stride_, 1024u) : std::max(stride_ / 2, 1u);
    last_ = now;
    if (now < next_) return false;
    next_ = now + interval_;
    return check_();
  }

 private:
  std::function<bool()> check_;
  clock::duration interval_{};
  clock::time_point last_{}, next_{};
  unsigned polls_ = 0, stride_ = 1;  // the clock is read every stride_-th poll
};

}  // namespace symhmc
