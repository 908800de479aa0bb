// Hierarchical priors: groups of coordinates whose prior precision tau has a Gamma hyperprior,
//   x_i ~ N(0, 1 / tau) for every i in the group,   tau ~ Gamma(shape, rate),
// and the exact conjugate Gibbs step tau | x ~ Gamma(shape + n / 2, rate + sum x_i^2 / 2) that the
// sampler runs between HMC transitions, per chain. The draws come from the counter-based generator
// (rng.hpp), so they are a function of (seed, chain, iteration, group) and of x only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "symhmc/rng.hpp"

namespace symhmc {

// Coordinates [begin, begin + count) of the flat vector share one precision.
struct PrecisionGroup {
  std::int64_t begin = 0, count = 0;
  double shape = 0, rate = 0;  // of the Gamma hyperprior on the precision
  // The precision the sampler starts from and holds during the first tenth of warm-up, before
  // its Gibbs steps begin (0: the hyperprior's mean).
  double warmup_precision = 0;
};

// Throws std::invalid_argument unless the groups are disjoint, inside [0, dim) and have positive
// shapes and rates.
void check_precision_groups(const std::vector<PrecisionGroup>& groups, std::int64_t dim);

// Gamma(shape, rate = 1) from the stream's uniforms index_base, index_base + 1, ... (Marsaglia &
// Tsang 2000, with the boost U^(1/shape) for shape < 1). A rejection sampler: it uses up to 3 uniforms
// per attempt, 3 x 1000 at most (the chance of needing more is below 1e-300).
double gamma_draw(const Stream& stream, std::uint64_t index_base, double shape);

// log Gamma(tau; shape, rate) density.
double log_gamma_density(double tau, double shape, double rate);

// Log prior of one group's coordinates given its precision tau, with the hyperprior's log density
// of tau: n / 2 log(tau / 2 pi) - tau S / 2 + log Gamma(tau; shape, rate), S = sum x_i^2.
double group_log_prior(const PrecisionGroup& group, double tau, double squares);

// The Gibbs step of one chain: draws every group's precision given x into tau (the old values are
// overwritten) and updates the chain's log density and gradient to the new precisions: the prior is
// the only term that depends on them, and it is cheap (O(dim)), so no evaluation of the target is
// needed (logp and grad null: they are left alone). Randomness: stream index 4096 g + j for group g.
template <class T>
void gibbs_precisions(const std::vector<PrecisionGroup>& groups, const T* x, const Stream& stream, double* tau,
                      T* logp, T* grad);

}  // namespace symhmc
