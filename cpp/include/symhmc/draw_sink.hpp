// Where draws go: caller-owned arrays (numpy arrays or memory maps), chains x capacity x dim, with
// one statistics record per draw. HMC and tempering both store through it, canonicalizing each draw
// when the target has a symmetry (the chains' own states stay continuous; see docs/design.md).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "symhmc/symmetry.hpp"

namespace symhmc {

// Statistics of one stored draw.
struct DrawStats {
  double accept_prob, step_size, logp, energy;
  double trajectory_length;  // integration time of the transition: n_steps x step_size
  std::uint32_t n_steps;     // integrator steps
  std::uint32_t tree_depth;  // NUTS tree depth; 0 for static HMC
  bool diverging;
};

template <class T>
struct DrawSink {
  T* draws = nullptr;          // chains x capacity x dim
  DrawStats* stats = nullptr;  // chains x capacity
  std::size_t capacity = 0;
  std::size_t written = 0;     // draws stored per chain so far
  double* precisions = nullptr;  // hierarchical priors: chains x capacity x groups, or null
  std::size_t groups = 0;

  bool full() const { return written >= capacity; }
  // Stores chain c's draw q (dim values) in the current slot, canonicalized when symmetry is set,
  // with its prior precisions tau (groups values) when there are any. Canonicalization leaves them
  // as they are: every precision group is a union of symmetry orbits.
  void store(std::size_t c, const T* q, std::size_t dim, const DrawStats& s, const Symmetry<T>* symmetry,
             const double* tau = nullptr) {
    T* slot = draws + (c * capacity + written) * dim;
    std::copy(q, q + dim, slot);
    if (symmetry) symmetry->canonicalize(slot, 1);
    stats[c * capacity + written] = s;
    if (precisions && tau) std::copy(tau, tau + groups, precisions + (c * capacity + written) * groups);
  }
};

}  // namespace symhmc
