#include "symhmc/integrator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace symhmc {
template <class T>
void Points<T>::copy_from(std::size_t d, const Points& other, std::size_t c) {
  std::copy_n(other.q.begin() + c * dim, dim, q.begin() + d * dim);
  std::copy_n(other.grad.begin() + c * dim, dim, grad.begin() + d * dim);
  logp[d] = other.logp[c];
}

template <class T>
Integrator<T>::Integrator(const Target<T>& target, int threads) : target_(target), threads_(threads) {}

template <class T>
void Integrator<T>::evaluate(Points<T>& z) {
  const auto start = std::chrono::steady_clock::now();
  if (precisions_)
    target_.logp_grad_given(z.q.data(), nullptr, z.chains, precisions_, z.logp.data(), z.grad.data(), threads_);
  else
    target_.logp_grad(z.q.data(), z.chains, z.logp.data(), z.grad.data(), threads_);
  count(z.chains, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

template <class T>
void Integrator<T>::evaluate(Points<T>& z, const std::vector<std::size_t>& active) {
  if (active.size() == z.chains) return evaluate(z);
  const std::size_t n = active.size(), P = z.dim;
  if (n == 0) return;
  packed_q_.resize(n * P), packed_logp_.resize(n), packed_grad_.resize(n * P);
  for (std::size_t k = 0; k < n; ++k) std::copy_n(z.position(active[k]), P, packed_q_.data() + k * P);
  const auto start = std::chrono::steady_clock::now();
  if (precisions_)
    target_.logp_grad_given(packed_q_.data(), active.data(), n, precisions_, packed_logp_.data(), packed_grad_.data(),
                            threads_);
  else
    target_.logp_grad_slots(packed_q_.data(), active.data(), n, packed_logp_.data(), packed_grad_.data(), threads_);
  count(n, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  for (std::size_t k = 0; k < n; ++k) {
    z.logp[active[k]] = packed_logp_[k];
    std::copy_n(packed_grad_.data() + k * P, P, z.gradient(active[k]));
  }
}

template <class T>
void Integrator<T>::kick(Points<T>& z, std::vector<T>& p, const double* eps, double fraction,
                         const std::vector<std::size_t>& active) {
  const std::size_t P = z.dim;
  for (std::size_t c : active) {
    T* pc = p.data() + c * P;
    const T* g = z.gradient(c);
    const T k = T(fraction * eps[c]);
    for (std::size_t i = 0; i < P; ++i) pc[i] += k * g[i];
  }
}

template <class T>
void Integrator<T>::kick_drift(Points<T>& z, std::vector<T>& p, const DiagonalMetric& metric, const double* eps,
                               double fraction, const std::vector<std::size_t>& active) {
  const std::size_t P = z.dim;
  for (std::size_t c : active) {
    T* pc = p.data() + c * P;
    const double* m = metric.inverse(c);
    const T* g = z.gradient(c);
    T* q = z.position(c);
    const T k = T(fraction * eps[c]), e = T(eps[c]);
    for (std::size_t i = 0; i < P; ++i) {
      pc[i] += k * g[i];
      q[i] += e * T(m[i]) * pc[i];
    }
  }
}

template <class T>
void Integrator<T>::step(Points<T>& z, std::vector<T>& p, const DiagonalMetric& metric, const double* eps,
                         const std::vector<std::size_t>& active) {
  kick_drift(z, p, metric, eps, 0.5, active);
  evaluate(z, active);
  kick(z, p, eps, 0.5, active);
}

template <class T>
bool Integrator<T>::trajectory(Points<T>& z, std::vector<T>& p, const DiagonalMetric& metric, const double* eps,
                               const std::uint32_t* n_steps, StopCheck* stop) {
  active_.clear();
  for (std::size_t c = 0; c < z.chains; ++c)
    if (n_steps[c] > 0) active_.push_back(c);
  for (std::uint32_t s = 0; !active_.empty(); ++s) {
    if (stop && (*stop)()) return false;
    kick_drift(z, p, metric, eps, s == 0 ? 0.5 : 1.0, active_);
    evaluate(z, active_);
    // Chains that are done get their closing half kick; the others carry it into the next kick.
    finished_.clear();
    std::size_t kept = 0;
    for (std::size_t c : active_) {
      const bool finite = std::isfinite(double(z.logp[c]));
      if (finite && s + 1 < n_steps[c])
        active_[kept++] = c;
      else if (finite)
        finished_.push_back(c);
    }
    active_.resize(kept);
    kick(z, p, eps, 0.5, finished_);
  }
  return true;
}

template struct Points<double>;
template struct Points<float>;
template class Integrator<double>;
template class Integrator<float>;

}  // namespace symhmc
