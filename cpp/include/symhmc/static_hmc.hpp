// Static HMC: every chain integrates its own number of steps from a fresh momentum and accepts the
// end point by Metropolis. Chains run in lockstep; a chain with fewer steps drops out of the batched
// calls once it is done.
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
class StaticHmc {
 public:
  StaticHmc(std::size_t chains, std::size_t dim, double max_energy_error);

  // One transition of every chain of z with step sizes eps and n_steps[c] steps; z holds the kept points.
  // Returns false, with z untouched, when stop() asked to abandon the transition.
  bool transition(Points<T>& z, const DiagonalMetric& metric, const double* eps, const std::uint32_t* n_steps,
                  const Philox& rng, std::uint64_t iteration, Integrator<T>& integrator, TransitionRecord<T>& record,
                  StopCheck* stop = nullptr);

 private:
  double max_energy_error_;
  Points<T> proposal_;
  std::vector<T> p_;
  std::vector<double> h0_;
};

extern template class StaticHmc<double>;
extern template class StaticHmc<float>;

}  // namespace symhmc
