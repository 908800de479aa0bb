// What the samplers need from a distribution: its dimension and, for K positions at once, the log
// density and its gradient. A target may declare that groups of coordinates are exchanged by its
// symmetry group; the adaptive metric is then tied (one value per group) so that HMC stays
// equivariant under the group (see docs/design.md, "The symmetry").
#pragma once
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "symhmc/gibbs.hpp"

namespace symhmc {

template <class T>
class Target {
 public:
  virtual ~Target() = default;
  virtual std::size_t dim() const = 0;
  // x: K x dim. Writes logp (K) and, when grad is not null, grad (K x dim). A non-finite density is
  // reported as -inf. threads <= 0 means all cores; results never depend on it.
  virtual void logp_grad(const T* x, std::size_t K, T* logp, T* grad, int threads) const = 0;
  // The points x of the batch slots `slots` (K of them, increasing). Only targets whose density
  // depends on the slot (tempering: slot k is at beta_{k mod R}) need more than the default.
  virtual void logp_grad_slots(const T* x, const std::size_t* slots, std::size_t K, T* logp, T* grad,
                               int threads) const {
    (void)slots;
    logp_grad(x, K, logp, grad, threads);
  }
  // Tie group of every coordinate (equal ids share one metric entry); empty when no symmetry.
  virtual std::vector<int> metric_ties() const { return {}; }

  // A few statistics of a position whose mixing the trajectory-length adapter maximizes per gradient
  // (out: K x n_summaries()); they must be invariant under the target's symmetry group. None by
  // default: the length is then ChEES's alone. (Coordinates are no default: while the metric has not
  // yet found large scales, most coordinates mix fast and the few that do not are outvoted, so the
  // length stays too short for the metric ever to find them.)
  virtual std::size_t n_summaries() const { return 0; }
  virtual void summaries(const T* x, std::size_t K, double* out) const { (void)x, (void)K, (void)out; }

  // Tempering needs the density as reference x likelihood, log pi = log pi_0 + l, with pi_0 a
  // normalized density (the prior). Targets that can split themselves return true and implement
  // evaluate(); any output pointer may be null.
  virtual bool can_split() const { return false; }
  virtual void evaluate(const T* x, std::size_t K, T* log_ref, T* log_lik, T* grad_ref, T* grad_lik,
                        int threads) const {
    (void)x, (void)K, (void)log_ref, (void)log_lik, (void)grad_ref, (void)grad_lik, (void)threads;
    throw std::logic_error("this target cannot be split into reference and likelihood");
  }

  // Hierarchical priors (gibbs.hpp): the groups of coordinates whose prior precisions the sampler
  // draws by Gibbs steps, per chain; empty for a fixed prior. The *_given calls evaluate the density
  // with the precisions given: point k uses row slots[k] (k when slots is null) of `precisions` (one
  // row of precision_groups().size() values per slot), and the log reference then includes the
  // hyperprior's log density of those precisions, so that it stays a normalized joint prior. Null
  // precisions mean the plain calls above.
  virtual const std::vector<PrecisionGroup>& precision_groups() const {
    static const std::vector<PrecisionGroup> none;
    return none;
  }
  virtual void logp_grad_given(const T* x, const std::size_t* slots, std::size_t K, const double* precisions,
                               T* logp, T* grad, int threads) const {
    if (precisions) throw std::logic_error("this target has no precision groups");
    if (slots)
      logp_grad_slots(x, slots, K, logp, grad, threads);
    else
      logp_grad(x, K, logp, grad, threads);
  }
  virtual void evaluate_given(const T* x, const std::size_t* slots, std::size_t K, const double* precisions,
                              T* log_ref, T* log_lik, T* grad_ref, T* grad_lik, int threads) const {
    (void)slots;
    if (precisions) throw std::logic_error("this target has no precision groups");
    evaluate(x, K, log_ref, log_lik, grad_ref, grad_lik, threads);
  }
};

}  // namespace symhmc
