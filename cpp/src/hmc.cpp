#include "symhmc/hmc.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace symhmc {
namespace {

constexpr double kLogTargetInit = -0.22314355131420976;  // log(0.8), Stan's step size heuristic

// Four partial sums: a fixed summation order (deterministic) without a serial dependency chain.
template <class T>
double kinetic(const T* p, const double* inv_metric, std::size_t n) {
  double k[4] = {0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; ++j) k[j] += double(p[i + j]) * double(p[i + j]) * inv_metric[i + j];
  for (; i < n; ++i) k[0] += double(p[i]) * double(p[i]) * inv_metric[i];
  return 0.5 * ((k[0] + k[1]) + (k[2] + k[3]));
}

}  // namespace

template <class T>
HmcState HmcSampler<T>::initial_state(std::size_t chains, std::size_t dim, std::uint64_t seed,
                                      std::uint64_t warmup, const double* init) {
  if (chains == 0) throw std::invalid_argument("chains: need at least one chain");
  if (dim == 0) throw std::invalid_argument("dim: the target has no parameters");
  HmcState s;
  s.chains = chains;
  s.dim = dim;
  s.seed = seed;
  s.warmup = warmup;
  s.position.assign(init, init + chains * dim);
  s.step_size.assign(chains, 0.0);  // 0: to be found by the heuristic before the first transition
  s.inv_metric.assign(chains * dim, 1.0);
  s.da_mu.assign(chains, 0.0);
  s.da_h_bar.assign(chains, 0.0);
  s.da_log_eps_bar.assign(chains, 0.0);
  s.da_count.assign(chains, 0.0);
  s.welford_mean.assign(chains * dim, 0.0);
  s.welford_m2.assign(chains * dim, 0.0);
  return s;
}

template <class T>
HmcSampler<T>::HmcSampler(const Target<T>& target, HmcSettings settings, HmcState state,
                          const Symmetry<T>* symmetry)
    : target_(target),
      symmetry_(symmetry),
      settings_(settings),
      state_(std::move(state)),
      rng_(state_.seed),
      windows_(std::size_t(state_.warmup), settings.init_buffer, settings.term_buffer, settings.base_window),
      ties_(target.metric_ties()) {
  const std::size_t C = state_.chains, P = state_.dim;
  if (P != target.dim()) throw std::invalid_argument("state: dimension does not match the target");
  if (state_.position.size() != C * P || state_.inv_metric.size() != C * P || state_.step_size.size() != C ||
      state_.welford_mean.size() != C * P || state_.welford_m2.size() != C * P || state_.da_mu.size() != C ||
      state_.da_h_bar.size() != C || state_.da_log_eps_bar.size() != C || state_.da_count.size() != C)
    throw std::invalid_argument("state: inconsistent array sizes");
  if (!ties_.empty() && ties_.size() != P) throw std::invalid_argument("target: metric_ties has the wrong size");
  if (settings_.n_steps < 1) throw std::invalid_argument("n_steps: need at least one leapfrog step");
  if (!(settings_.step_jitter >= 0 && settings_.step_jitter < 1))
    throw std::invalid_argument("step_jitter: must be in [0, 1)");
  if (!(settings_.length_jitter >= 0 && settings_.length_jitter < 1))
    throw std::invalid_argument("length_jitter: must be in [0, 1)");
  if (!(settings_.target_accept > 0 && settings_.target_accept < 1))
    throw std::invalid_argument("target_accept: must be in (0, 1)");
  dual_averaging_.delta = settings_.target_accept;
  q_.resize(C * P);
  for (std::size_t i = 0; i < C * P; ++i) q_[i] = T(state_.position[i]);
  grad_.resize(C * P);
  logp_.resize(C);
  q_new_.resize(C * P);
  p_.resize(C * P);
  grad_new_.resize(C * P);
  logp_new_.resize(C);
  update_momentum_scale();
  evaluate(q_, logp_, grad_);
  for (std::size_t c = 0; c < C; ++c)
    if (!std::isfinite(double(logp_[c])))
      throw std::invalid_argument("init: chain " + std::to_string(c) + " starts where the log density is not finite");
}

template <class T>
void HmcSampler<T>::update_momentum_scale() {
  momentum_scale_.resize(state_.inv_metric.size());
  for (std::size_t i = 0; i < momentum_scale_.size(); ++i) momentum_scale_[i] = 1.0 / std::sqrt(state_.inv_metric[i]);
}

template <class T>
void HmcSampler<T>::evaluate(const std::vector<T>& q, std::vector<T>& logp, std::vector<T>& grad) {
  const auto start = std::chrono::steady_clock::now();
  target_.logp_grad(q.data(), state_.chains, logp.data(), grad.data(), settings_.threads);
  gradient_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  gradient_evals_ += state_.chains;
}

// Stan's heuristic, for all chains in lockstep: double or halve the step size until the acceptance
// probability of one leapfrog step from a fresh momentum crosses 0.8.
template <class T>
void HmcSampler<T>::find_initial_step_sizes(std::uint64_t iteration) {
  const std::size_t C = state_.chains, P = state_.dim;
  std::vector<double> eps(C), h0(C);
  std::vector<int> direction(C, 0);
  std::vector<bool> done(C, false);
  for (std::size_t c = 0; c < C; ++c) eps[c] = state_.step_size[c] > 0 ? state_.step_size[c] : 1.0;
  for (int attempt = 0; attempt < 100; ++attempt) {
    for (std::size_t c = 0; c < C; ++c) {
      T* p = p_.data() + c * P;
      const double* im = state_.inv_metric.data() + c * P;
      Stream(rng_, c, iteration, Purpose::init).normals(p, P, std::uint64_t(attempt) * P);
      const double* ms = momentum_scale_.data() + c * P;
      for (std::size_t i = 0; i < P; ++i) p[i] = T(double(p[i]) * ms[i]);
      h0[c] = -double(logp_[c]) + kinetic(p, im, P);
      const T* g = grad_.data() + c * P;
      T* qn = q_new_.data() + c * P;
      const T e = T(eps[c]);
      for (std::size_t i = 0; i < P; ++i) {
        p[i] += T(0.5) * e * g[i];
        qn[i] = q_[c * P + i] + e * T(im[i]) * p[i];
      }
    }
    evaluate(q_new_, logp_new_, grad_new_);
    bool all_done = true;
    for (std::size_t c = 0; c < C; ++c) {
      if (done[c]) continue;
      T* p = p_.data() + c * P;
      const T* g = grad_new_.data() + c * P;
      for (std::size_t i = 0; i < P; ++i) p[i] += T(0.5) * T(eps[c]) * g[i];
      double dh = h0[c] - (-double(logp_new_[c]) + kinetic(p, state_.inv_metric.data() + c * P, P));
      if (!std::isfinite(dh)) dh = -std::numeric_limits<double>::infinity();
      if (attempt == 0) direction[c] = dh > kLogTargetInit ? 1 : -1;
      const bool crossed = direction[c] == 1 ? !(dh > kLogTargetInit) : !(dh < kLogTargetInit);
      if (attempt > 0 && crossed) {
        done[c] = true;
        continue;
      }
      eps[c] = direction[c] == 1 ? 2 * eps[c] : 0.5 * eps[c];
      if (eps[c] > 1e7 || eps[c] < 1e-12) {
        eps[c] = std::fmin(std::fmax(eps[c], 1e-12), 1e7);
        done[c] = true;
        continue;
      }
      all_done = false;
    }
    if (all_done) break;
  }
  for (std::size_t c = 0; c < C; ++c) {
    state_.step_size[c] = eps[c];
    DualAveraging::State s;
    DualAveraging::restart(s, eps[c]);
    state_.da_mu[c] = s.mu, state_.da_h_bar[c] = s.h_bar, state_.da_log_eps_bar[c] = s.log_eps_bar,
    state_.da_count[c] = s.count;
  }
}

template <class T>
void HmcSampler<T>::transition(std::uint64_t it, std::vector<DrawStats>& stats) {
  const std::size_t C = state_.chains, P = state_.dim;
  std::size_t L = settings_.n_steps;
  if (settings_.length_jitter > 0) {
    const std::size_t lo = std::size_t(std::ceil((1 - settings_.length_jitter) * double(L)));
    const double u = Stream(rng_, 0, it, Purpose::length_jitter).uniform(0);
    L = lo + std::size_t(u * double(L - lo + 1));
    if (L > settings_.n_steps) L = settings_.n_steps;
    if (L < 1) L = 1;
  }
  std::vector<double> eps(C), h0(C);
  std::vector<char> alive(C, 1);
  for (std::size_t c = 0; c < C; ++c) {
    const double u = Stream(rng_, c, it, Purpose::step_jitter).uniform(0);
    eps[c] = state_.step_size[c] * (1 + settings_.step_jitter * (2 * u - 1));
    T* p = p_.data() + c * P;
    const double* im = state_.inv_metric.data() + c * P;
    Stream(rng_, c, it, Purpose::momentum).normals(p, P, 0);
    const double* ms = momentum_scale_.data() + c * P;
    for (std::size_t i = 0; i < P; ++i) p[i] = T(double(p[i]) * ms[i]);
    h0[c] = -double(logp_[c]) + kinetic(p, im, P);
  }
  q_new_ = q_;
  grad_new_ = grad_;
  // Leapfrog with the half kicks of consecutive steps merged: a half kick, then (drift, full kick)
  // L - 1 times, a drift and a final half kick.
  for (std::size_t step = 0; step < L; ++step) {
    for (std::size_t c = 0; c < C; ++c) {
      if (!alive[c]) continue;
      T* p = p_.data() + c * P;
      T* q = q_new_.data() + c * P;
      const T* g = grad_new_.data() + c * P;
      const double* im = state_.inv_metric.data() + c * P;
      const T e = T(eps[c]), kick = step == 0 ? T(0.5 * eps[c]) : e;
      for (std::size_t i = 0; i < P; ++i) {
        p[i] += kick * g[i];
        q[i] += e * T(im[i]) * p[i];
      }
    }
    evaluate(q_new_, logp_new_, grad_new_);
    // A non-finite density ends the trajectory (divergent); the energy error is checked at the end:
    // chains move in lockstep, so stopping one early would save no gradient evaluations.
    for (std::size_t c = 0; c < C; ++c)
      if (alive[c] && !std::isfinite(double(logp_new_[c]))) alive[c] = 0;
  }
  for (std::size_t c = 0; c < C; ++c) {
    if (!alive[c]) continue;
    T* p = p_.data() + c * P;
    const T* g = grad_new_.data() + c * P;
    const T half = T(0.5 * eps[c]);
    for (std::size_t i = 0; i < P; ++i) p[i] += half * g[i];
  }
  for (std::size_t c = 0; c < C; ++c) {
    DrawStats& s = stats[c];
    double h1 = std::numeric_limits<double>::infinity();
    if (alive[c]) h1 = -double(logp_new_[c]) + kinetic(p_.data() + c * P, state_.inv_metric.data() + c * P, P);
    s.diverging = !alive[c] || !std::isfinite(h1) || h1 - h0[c] > settings_.max_energy_error;
    s.accept_prob = s.diverging ? 0.0 : std::fmin(1.0, std::exp(h0[c] - h1));
    const bool accept = !s.diverging && Stream(rng_, c, it, Purpose::accept).uniform(0) < s.accept_prob;
    if (accept) {
      std::copy(q_new_.begin() + c * P, q_new_.begin() + (c + 1) * P, q_.begin() + c * P);
      std::copy(grad_new_.begin() + c * P, grad_new_.begin() + (c + 1) * P, grad_.begin() + c * P);
      logp_[c] = logp_new_[c];
    }
    s.step_size = eps[c];
    s.logp = double(logp_[c]);
    s.energy = accept ? h1 : h0[c];
    s.n_steps = std::uint32_t(L);
    if (s.diverging) ++divergences_;
  }
}

template <class T>
void HmcSampler<T>::adapt(std::uint64_t it, const std::vector<DrawStats>& stats) {
  const std::size_t C = state_.chains, P = state_.dim;
  for (std::size_t c = 0; c < C && settings_.adapt_step_size; ++c) {
    DualAveraging::State s{state_.da_mu[c], state_.da_h_bar[c], state_.da_log_eps_bar[c], state_.da_count[c]};
    state_.step_size[c] = dual_averaging_.learn(s, stats[c].accept_prob);
    state_.da_mu[c] = s.mu, state_.da_h_bar[c] = s.h_bar, state_.da_log_eps_bar[c] = s.log_eps_bar,
    state_.da_count[c] = s.count;
  }
  if (settings_.adapt_metric && windows_.in_slow_window(std::size_t(it))) {
    state_.welford_n += 1;
    for (std::size_t c = 0; c < C; ++c)
      Welford::add(state_.welford_n, state_.welford_mean.data() + c * P, state_.welford_m2.data() + c * P,
                   q_.data() + c * P, P);
    if (windows_.window_ends(std::size_t(it))) {
      for (std::size_t c = 0; c < C; ++c)
        Welford::metric(state_.welford_n, state_.welford_m2.data() + c * P, P, ties_,
                        state_.inv_metric.data() + c * P);
      update_momentum_scale();
      for (std::size_t c = 0; c < C; ++c)
        Welford::reset(state_.welford_mean.data() + c * P, state_.welford_m2.data() + c * P, P);
      state_.welford_n = 0;
      if (settings_.adapt_step_size) find_initial_step_sizes(it + 1);  // and restart dual averaging
    }
  }
  if (it + 1 == state_.warmup && settings_.adapt_step_size)
    for (std::size_t c = 0; c < C; ++c) {
      DualAveraging::State s{state_.da_mu[c], state_.da_h_bar[c], state_.da_log_eps_bar[c], state_.da_count[c]};
      state_.step_size[c] = DualAveraging::final_step(s);
    }
}

template <class T>
std::size_t HmcSampler<T>::run(std::size_t n_transitions, std::size_t thin, DrawSink<T>& sink,
                               const std::function<bool(std::size_t)>& progress) {
  if (thin < 1) throw std::invalid_argument("thin: must be at least 1");
  const std::size_t C = state_.chains, P = state_.dim;
  bool need_step = false;
  for (double e : state_.step_size) need_step = need_step || !(e > 0);
  if (need_step) find_initial_step_sizes(state_.iteration);
  std::vector<DrawStats>& stats = stats_;
  stats.resize(C);
  std::size_t done = 0;
  while (done < n_transitions) {
    const std::uint64_t it = state_.iteration;
    transition(it, stats);
    if (it < state_.warmup) {
      adapt(it, stats);
    } else if ((it - state_.warmup) % thin == 0 && sink.written < sink.capacity) {
      for (std::size_t c = 0; c < C; ++c) {
        T* slot = sink.draws + (c * sink.capacity + sink.written) * P;
        std::copy(q_.begin() + c * P, q_.begin() + (c + 1) * P, slot);
        if (symmetry_) symmetry_->canonicalize(slot, 1);
        sink.stats[c * sink.capacity + sink.written] = stats[c];
      }
      ++sink.written;
    }
    ++state_.iteration;
    ++done;
    if (progress && !progress(done)) break;
  }
  for (std::size_t i = 0; i < C * P; ++i) state_.position[i] = double(q_[i]);
  return done;
}

template <class T>
void HmcSampler<T>::set_points(const std::vector<T>& q, const std::vector<T>& logp, const std::vector<T>& grad) {
  if (q.size() != q_.size() || logp.size() != logp_.size() || grad.size() != grad_.size())
    throw std::invalid_argument("set_points: sizes do not match the sampler");
  q_ = q;
  logp_ = logp;
  grad_ = grad;
  for (std::size_t i = 0; i < q_.size(); ++i) state_.position[i] = double(q_[i]);
}

template class HmcSampler<double>;
template class HmcSampler<float>;

}  // namespace symhmc
