#include "symhmc/static_hmc.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace symhmc {

template <class T>
StaticHmc<T>::StaticHmc(std::size_t chains, std::size_t dim, double max_energy_error)
    : max_energy_error_(max_energy_error), proposal_(chains, dim), p_(chains * dim), h0_(chains) {}

template <class T>
bool StaticHmc<T>::transition(Points<T>& z, const DiagonalMetric& metric, const double* eps,
                              const std::uint32_t* n_steps, const Philox& rng, std::uint64_t it,
                              Integrator<T>& integrator, TransitionRecord<T>& record, StopCheck* stop) {
  const std::size_t C = z.chains, P = z.dim;
  record.resize(C, P);
  record.start = z.q;
  proposal_ = z;
  for (std::size_t c = 0; c < C; ++c) {
    metric.draw_momentum(Stream(rng, c, it, Purpose::momentum), c, p_.data() + c * P);
    h0_[c] = -double(z.logp[c]) + metric.kinetic(c, p_.data() + c * P);
  }
  // A chain whose density turns non-finite stops there: divergent, its energy error is infinite.
  // z is only written below, so an abandoned trajectory changes nothing.
  if (!integrator.trajectory(proposal_, p_, metric, eps, n_steps, stop)) return false;
  for (std::size_t c = 0; c < C; ++c) {
    TransitionInfo& info = record.info[c];
    double h1 = std::numeric_limits<double>::infinity();
    if (std::isfinite(double(proposal_.logp[c]))) h1 = -double(proposal_.logp[c]) + metric.kinetic(c, p_.data() + c * P);
    info.diverging = !std::isfinite(h1) || h1 - h0_[c] > max_energy_error_;
    info.accept_prob = info.diverging ? 0.0 : std::fmin(1.0, std::exp(h0_[c] - h1));
    const bool accept = !info.diverging && Stream(rng, c, it, Purpose::accept).uniform(0) < info.accept_prob;
    if (accept) z.copy_from(c, proposal_, c);
    info.energy = accept ? h1 : h0_[c];
    info.step_size = eps[c];
    info.n_steps = n_steps[c];
    info.tree_depth = 0;
  }
  record.end = proposal_.q;
  record.end_momentum = p_;
  return true;
}

template class StaticHmc<double>;
template class StaticHmc<float>;

}  // namespace symhmc
