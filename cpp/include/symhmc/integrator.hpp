// The integrator: moves chains along Hamiltonian trajectories in lockstep with the leapfrog scheme.
// One step of all the chains it is given costs one batched call to the target, over those chains
// only, so chains that have finished their trajectory (static HMC with per-chain lengths, NUTS) cost
// nothing. A position's log density and gradient do not depend on the batch it is evaluated in, so
// leaving chains out changes no result.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "symhmc/metric.hpp"
#include "symhmc/target.hpp"
#include "symhmc/transition.hpp"

namespace symhmc {

// The points of all chains: positions, log densities and gradients (chains x dim).
template <class T>
struct Points {
  std::size_t chains = 0, dim = 0;
  std::vector<T> q, logp, grad;

  Points() = default;
  Points(std::size_t c, std::size_t d) : chains(c), dim(d), q(c * d), logp(c), grad(c * d) {}
  T* position(std::size_t c) { return q.data() + c * dim; }
  const T* position(std::size_t c) const { return q.data() + c * dim; }
  T* gradient(std::size_t c) { return grad.data() + c * dim; }
  const T* gradient(std::size_t c) const { return grad.data() + c * dim; }
  // Copies chain c of other into chain d of this.
  void copy_from(std::size_t d, const Points& other, std::size_t c);
};

template <class T>
class Integrator {
 public:
  Integrator(const Target<T>& target, int threads);

  // Evaluates log density and gradient of every chain of z.
  void evaluate(Points<T>& z);
  // One leapfrog step (kick / 2, drift, kick / 2) of size eps[c] (negative: backwards in time) for
  // every chain c in active, moving z and the momenta p (chains x dim). A chain whose density turns
  // non-finite keeps its non-finite logp: the transition decides what that means.
  void step(Points<T>& z, std::vector<T>& p, const DiagonalMetric& metric, const double* eps,
            const std::vector<std::size_t>& active);
  // n_steps[c] leapfrog steps of every chain c, all chains in lockstep, the closing half kick of one
  // step merged with the opening half kick of the next (one pass over the momenta per step). A chain
  // leaves the batch when its steps are done or its density turns non-finite (it stops there).
  // Returns false, with z and p part-way, when stop asks to abandon the trajectory.
  bool trajectory(Points<T>& z, std::vector<T>& p, const DiagonalMetric& metric, const double* eps,
                  const std::uint32_t* n_steps, StopCheck* stop = nullptr);

  // Hierarchical priors: evaluate chain c with row c of precisions (chains x groups, owned by the
  // sampler, which changes its values between transitions); null: the target's own prior.
  void condition_on(const double* precisions) { precisions_ = precisions; }

  std::size_t gradient_evaluations() const { return evaluations_; }
  double gradient_seconds() const { return seconds_; }
  // Evaluations that are not steps (tempering's exchange, the step size heuristic) are counted here too.
  void count(std::size_t evaluations, double seconds) { evaluations_ += evaluations, seconds_ += seconds; }

 private:
  void kick(Points<T>& z, std::vector<T>& p, const double* eps, double fraction, const std::vector<std::size_t>& active);
  // A kick of fraction x eps followed by a full drift, in one pass.
  void kick_drift(Points<T>& z, std::vector<T>& p, const DiagonalMetric& metric, const double* eps, double fraction,
                  const std::vector<std::size_t>& active);
  void evaluate(Points<T>& z, const std::vector<std::size_t>& active);

  const Target<T>& target_;
  int threads_;
  const double* precisions_ = nullptr;
  std::size_t evaluations_ = 0;
  double seconds_ = 0;
  std::vector<T> packed_q_, packed_logp_, packed_grad_;  // the active chains, contiguous
  std::vector<std::size_t> active_, finished_;
};

extern template class Integrator<double>;
extern template class Integrator<float>;

}  // namespace symhmc
