#include "symhmc/tempering.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace symhmc {

bool schedule_update_due(std::uint64_t iteration, std::uint64_t warmup) {
  const std::uint64_t done = iteration + 1;
  if (double(done) > 0.8 * double(warmup)) return false;
  for (std::uint64_t end = 8, len = 8; end <= done; len *= 2, end += len)
    if (end == done) return true;
  return false;
}

std::vector<double> equal_barrier_schedule(const std::vector<double>& betas, const std::vector<double>& rejection,
                                           std::size_t n) {
  const std::size_t R = betas.size();
  if (R < 2 || rejection.size() + 1 != R) throw std::invalid_argument("rejection: need one rate per pair of betas");
  if (n < 2) throw std::invalid_argument("n_replicas: need at least 2 replicas");
  std::vector<double> cum(R, 0.0);
  for (std::size_t i = 0; i + 1 < R; ++i) cum[i + 1] = cum[i] + std::fmax(rejection[i], 1e-6);
  std::vector<double> next(n);
  next[0] = 0.0;
  std::size_t i = 0;
  for (std::size_t k = 1; k + 1 < n; ++k) {
    const double target = cum[R - 1] * double(k) / double(n - 1);
    while (i + 2 < R && cum[i + 1] < target) ++i;
    const double w = (target - cum[i]) / (cum[i + 1] - cum[i]);
    next[k] = betas[i] + std::fmin(1.0, std::fmax(0.0, w)) * (betas[i + 1] - betas[i]);
  }
  for (std::size_t k = 1; k + 1 < n; ++k) next[k] = std::fmax(next[k], next[k - 1] + 1e-12);  // strictly increasing
  next[n - 1] = 1.0;
  return next;
}

// pi_beta(x) = pi_0(x) L(x)^beta for the point at index k, beta = betas[k % replicas].
template <class T>
class TemperingSampler<T>::Tempered : public Target<T> {
 public:
  Tempered(const Target<T>& base, const std::vector<double>& betas) : base_(base), betas_(betas) {}
  std::size_t dim() const override { return base_.dim(); }
  std::vector<int> metric_ties() const override { return base_.metric_ties(); }
  // Swaps move points between chains, so a chain's statistics have no autocorrelation to measure.
  std::size_t n_summaries() const override { return 0; }
  void logp_grad(const T* x, std::size_t K, T* logp, T* grad, int threads) const override {
    evaluate_slots(x, nullptr, K, nullptr, logp, grad, threads);
  }
  void logp_grad_slots(const T* x, const std::size_t* slots, std::size_t K, T* logp, T* grad,
                       int threads) const override {
    evaluate_slots(x, slots, K, nullptr, logp, grad, threads);
  }
  // Hierarchical priors: the precisions are part of each replica's point and, like the prior, untempered.
  const std::vector<PrecisionGroup>& precision_groups() const override { return base_.precision_groups(); }
  void logp_grad_given(const T* x, const std::size_t* slots, std::size_t K, const double* precisions, T* logp,
                       T* grad, int threads) const override {
    evaluate_slots(x, slots, K, precisions, logp, grad, threads);
  }

 private:
  // slots null: point k sits in slot k.
  void evaluate_slots(const T* x, const std::size_t* slots, std::size_t K, const double* precisions, T* logp,
                      T* grad, int threads) const {
    const std::size_t P = dim(), R = betas_.size();
    lr_.resize(K), ll_.resize(K), gr_.resize(K * P), gl_.resize(K * P);
    T* gr = grad ? gr_.data() : nullptr;
    T* gl = grad ? gl_.data() : nullptr;
    base_.evaluate_given(x, slots, K, precisions, lr_.data(), ll_.data(), gr, gl, threads);
    for (std::size_t k = 0; k < K; ++k) {
      const T beta = T(betas_[(slots ? slots[k] : k) % R]);
      // beta = 0 ignores the likelihood entirely, even where it is -inf.
      logp[k] = beta == T(0) ? lr_[k] : lr_[k] + beta * ll_[k];
      if (std::isnan(double(logp[k]))) logp[k] = -std::numeric_limits<T>::infinity();
      if (grad)
        for (std::size_t i = 0; i < P; ++i) grad[k * P + i] = gr_[k * P + i] + beta * gl_[k * P + i];
    }
  }

  const Target<T>& base_;
  const std::vector<double>& betas_;
  mutable std::vector<T> lr_, ll_, gr_, gl_;  // scratch; HMC evaluates from one thread
};

template <class T>
TemperingState TemperingSampler<T>::initial_state(std::size_t chains, std::vector<double> betas) {
  const std::size_t R = betas.size();
  if (R < 2) throw std::invalid_argument("n_replicas: need at least 2 replicas");
  if (betas.front() != 0.0 || betas.back() != 1.0) throw std::invalid_argument("betas: must run from 0 to 1");
  for (std::size_t r = 1; r < R; ++r)
    if (!(betas[r] > betas[r - 1])) throw std::invalid_argument("betas: must be strictly increasing");
  TemperingState s;
  s.chains = chains;
  s.replicas = R;
  s.betas = std::move(betas);
  s.replica_at.resize(chains * R);
  for (std::size_t c = 0; c < chains; ++c)
    for (std::size_t r = 0; r < R; ++r) s.replica_at[c * R + r] = std::int64_t(r);
  s.trip.assign(chains * R, 0);
  s.round_trips.assign(chains, 0);
  s.reject_sum.assign(R - 1, 0.0);
  s.accept_sum.assign(R - 1, 0.0);
  return s;
}

template <class T>
TemperingSampler<T>::TemperingSampler(const Target<T>& target, HmcSettings hmc_settings, HmcState hmc_state,
                                      TemperingSettings settings, TemperingState state,
                                      const Symmetry<T>* symmetry)
    : base_(target), settings_(settings), state_(std::move(state)), symmetry_(symmetry),
      rng_(hmc_state.seed, state_.chain_offset), warmup_(hmc_state.warmup), threads_(hmc_settings.threads) {
  if (!target.can_split())
    throw std::invalid_argument("target: tempering needs a target split into prior and likelihood");
  const std::size_t C = state_.chains, R = state_.replicas;
  if (hmc_state.chains != C * R) throw std::invalid_argument("state: expected chains x replicas HMC points");
  if (state_.betas.size() != R || state_.replica_at.size() != C * R || state_.trip.size() != C * R ||
      state_.round_trips.size() != C || state_.reject_sum.size() + 1 != R || state_.accept_sum.size() + 1 != R)
    throw std::invalid_argument("state: inconsistent tempering state");
  tempered_ = std::make_unique<Tempered>(base_, state_.betas);
  hmc_ = std::make_unique<HmcSampler<T>>(*tempered_, hmc_settings, std::move(hmc_state));
  const std::size_t K = C * R, P = base_.dim();
  log_ref_.resize(K), log_lik_.resize(K), grad_ref_.resize(K * P), grad_lik_.resize(K * P);
}

template <class T>
TemperingSampler<T>::~TemperingSampler() = default;

template <class T>
void TemperingSampler<T>::exchange(std::uint64_t it, bool sampling) {
  const std::size_t C = state_.chains, R = state_.replicas, P = base_.dim(), K = C * R;
  z_ = hmc_->points();
  // One more batched evaluation per round, at the points HMC kept: the swap needs their likelihoods
  // and the points that move need their gradients at the new beta. Counted with HMC's evaluations.
  const auto start = std::chrono::steady_clock::now();
  std::vector<double>& tau = hmc_->precisions();  // hierarchical priors: chains x replicas rows, else empty
  const std::size_t G = base_.precision_groups().size();
  base_.evaluate_given(z_.q.data(), nullptr, K, hmc_->integrator().precisions(), log_ref_.data(), log_lik_.data(),
                       grad_ref_.data(), grad_lik_.data(), threads_);
  hmc_->integrator().count(K, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  const std::vector<double>& beta = state_.betas;
  for (std::size_t c = 0; c < C; ++c) {
    // Even/odd alternation (DEO), or a fair coin per chain and iteration (reversible).
    std::size_t parity = it % 2;
    if (settings_.reversible) parity = Stream(rng_, c, it, Purpose::swap).uniform(R) < 0.5 ? 0 : 1;
    for (std::size_t i = 0; i + 1 < R; ++i) {
      const std::size_t a = c * R + i, b = a + 1;
      double log_ratio = (beta[i + 1] - beta[i]) * (double(log_lik_[a]) - double(log_lik_[b]));
      if (std::isnan(log_ratio)) log_ratio = -std::numeric_limits<double>::infinity();
      const double alpha = std::fmin(1.0, std::exp(log_ratio));
      state_.reject_sum[i] += 1 - alpha;
      if (sampling) state_.accept_sum[i] += alpha;
      if (i % 2 != parity) continue;
      if (!(Stream(rng_, c, it, Purpose::swap).uniform(i) < alpha)) continue;
      std::swap_ranges(z_.q.begin() + a * P, z_.q.begin() + (a + 1) * P, z_.q.begin() + b * P);
      std::swap_ranges(grad_ref_.begin() + a * P, grad_ref_.begin() + (a + 1) * P, grad_ref_.begin() + b * P);
      std::swap_ranges(grad_lik_.begin() + a * P, grad_lik_.begin() + (a + 1) * P, grad_lik_.begin() + b * P);
      std::swap_ranges(tau.begin() + a * G, tau.begin() + (a + 1) * G, tau.begin() + b * G);
      std::swap(log_ref_[a], log_ref_[b]);
      std::swap(log_lik_[a], log_lik_[b]);
      std::swap(state_.replica_at[a], state_.replica_at[b]);
    }
    // Round trips: a replica label leaving beta = 0, reaching beta = 1, and coming back to 0.
    const std::int64_t bottom = state_.replica_at[c * R], top = state_.replica_at[c * R + R - 1];
    std::int8_t& tb = state_.trip[c * R + std::size_t(bottom)];
    if (tb == 2) ++state_.round_trips[c];
    tb = 1;
    std::int8_t& tt = state_.trip[c * R + std::size_t(top)];
    if (tt == 1) tt = 2;
  }
  state_.reject_count += double(C);
  if (sampling) state_.accept_count += double(C);
  if (settings_.adapt_schedule && !sampling && schedule_update_due(it, warmup_)) update_schedule();
  for (std::size_t k = 0; k < K; ++k) {
    const T b = T(beta[k % R]);
    z_.logp[k] = b == T(0) ? log_ref_[k] : log_ref_[k] + b * log_lik_[k];
    if (std::isnan(double(z_.logp[k]))) z_.logp[k] = -std::numeric_limits<T>::infinity();
    for (std::size_t i = 0; i < P; ++i) z_.grad[k * P + i] = grad_ref_[k * P + i] + b * grad_lik_[k * P + i];
  }
  hmc_->set_points(z_);
}

template <class T>
void TemperingSampler<T>::update_schedule() {
  std::vector<double> rejection(state_.replicas - 1);
  for (std::size_t i = 0; i + 1 < state_.replicas; ++i)
    rejection[i] = state_.reject_sum[i] / std::fmax(state_.reject_count, 1.0);
  state_.betas = equal_barrier_schedule(state_.betas, rejection, state_.replicas);  // Tempered holds a reference
  std::fill(state_.reject_sum.begin(), state_.reject_sum.end(), 0.0);
  state_.reject_count = 0;
}

template <class T>
std::size_t TemperingSampler<T>::run(std::size_t n_transitions, std::size_t thin, DrawSink<T>& sink, T* draws_all,
                                     double* loglik_trace, std::size_t trace_capacity, std::size_t* trace_written,
                                     const std::function<bool(std::size_t)>& progress,
                                     const std::function<bool()>& interrupt) {
  if (thin < 1) throw std::invalid_argument("thin: must be at least 1");
  const std::size_t C = state_.chains, R = state_.replicas, P = base_.dim();
  DrawSink<T> none;
  std::size_t done = 0;
  while (done < n_transitions) {
    const std::uint64_t it = hmc_->iteration();
    if (hmc_->run(1, 1, none, nullptr, interrupt) == 0) break;  // interrupted inside the transition
    const bool sampling = it >= warmup_;
    exchange(it, sampling);
    if (sampling) {
      if (*trace_written < trace_capacity) {
        for (std::size_t c = 0; c < C; ++c)
          for (std::size_t r = 0; r < R; ++r)
            loglik_trace[(c * trace_capacity + *trace_written) * R + r] = double(log_lik_[c * R + r]);
        ++*trace_written;
      }
      if ((it - warmup_) % thin == 0 && !sink.full()) {
        for (std::size_t c = 0; c < C; ++c) {
          const std::size_t top = c * R + R - 1;
          DrawStats stats = hmc_->last_stats()[top];
          stats.logp = double(z_.logp[top]);
          const std::vector<double>& tau = hmc_->precisions();
          sink.store(c, z_.position(top), P, stats, symmetry_, tau.empty() ? nullptr : tau.data() + top * tau.size() / (C * R));
          if (draws_all) {
            T* all = draws_all + (c * sink.capacity + sink.written) * R * P;
            std::copy(z_.q.begin() + c * R * P, z_.q.begin() + (c + 1) * R * P, all);
            if (symmetry_) symmetry_->canonicalize(all, R);
          }
        }
        ++sink.written;
      }
    }
    ++done;
    if (progress && !progress(done)) break;
  }
  return done;
}

template class TemperingSampler<double>;
template class TemperingSampler<float>;

}  // namespace symhmc
