// The No-U-Turn sampler for many chains in lockstep: multinomial sampling over the trajectory with
// the generalized U-turn criterion and the checks across merged subtrees (Betancourt 2017; Stan's
// base_nuts). Each chain runs its own tree; every leapfrog step of every chain still building goes
// into one batched call to the target, so chains that stopped early cost nothing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "symhmc/integrator.hpp"
#include "symhmc/metric.hpp"
#include "symhmc/rng.hpp"
#include "symhmc/transition.hpp"

namespace symhmc {

template <class T>
class Nuts {
 public:
  Nuts(std::size_t chains, std::size_t dim, int max_depth, double max_energy_error);
  ~Nuts();

  // One transition of every chain of z (moved in place to the new draw) with step sizes eps.
  // Randomness: momenta from Stream(rng, c, it, Purpose::momentum), directions and multinomial
  // choices from Stream(rng, c, it, Purpose::tree). record.end / end_momentum are not filled.
  // Returns false, with z restored to its start, when stop() asked to abandon the transition.
  bool transition(Points<T>& z, const DiagonalMetric& metric, const double* eps, const Philox& rng,
                  std::uint64_t iteration, Integrator<T>& integrator, TransitionRecord<T>& record,
                  StopCheck* stop = nullptr);

 private:
  struct Chain;  // one chain's tree under construction
  std::size_t chains_, dim_;
  int max_depth_;
  double max_energy_error_;
  std::vector<Chain> trees_;
  std::vector<T> p_;                // chains x dim: the momenta at the leaves being stepped
  std::vector<double> signed_eps_;  // chains: the step size times the direction of the subtree
  std::vector<std::size_t> active_; // the chains that need a leaf step now
  Points<T> start_;                 // z at the start, restored when the transition is abandoned
};

extern template class Nuts<double>;
extern template class Nuts<float>;

}  // namespace symhmc
