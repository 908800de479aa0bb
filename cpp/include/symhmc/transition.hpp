// What a transition reports: per chain, the statistics of the draw (acceptance statistic, energy,
// steps, tree depth, divergence), and the trajectory's start, end and end momentum, which the
// trajectory-length adapter reads. Transitions (static_hmc.hpp, nuts.hpp) fill it; adapters
// (adaptation.hpp) consume it; neither knows the other.
#pragma once
#include <cstddef>
#include <cstdint>
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

}  // namespace symhmc
