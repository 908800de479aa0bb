#include "symhmc/hmc.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace symhmc {
namespace {
constexpr double kLogTargetInit = -0.22314355131420976;  // log(0.8), Stan's step size heuristic
constexpr double kInitialLengthSteps = 16;                // ChEES starts from 16 steps of the first step size
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
  s.step_size.assign(chains, 0.0);
  s.inv_metric.assign(chains * dim, 1.0);
  s.step_adaptation.assign(chains, DualAveraging::State{});
  s.metric_adaptation = MetricAdapter::initial(chains, dim);
  s.trajectory_adaptation = TrajectoryAdapter::initial(chains, dim);
  return s;
}

template <class T>
HmcSampler<T>::HmcSampler(const Target<T>& target, HmcSettings settings, HmcState state, const Symmetry<T>* symmetry)
    : target_(target),
      groups_(target.precision_groups()),
      symmetry_(symmetry),
      settings_(settings),
      state_(std::move(state)),
      rng_(state_.seed, state_.chain_offset),
      integrator_(target, settings.threads),
      windows_(std::size_t(state_.warmup), settings.init_buffer, settings.term_buffer, settings.base_window),
      metric_adapter_(target.metric_ties()) {
  const std::size_t C = state_.chains, P = state_.dim;
  if (P != target.dim()) throw std::invalid_argument("state: dimension does not match the target");
  const auto& ma = state_.metric_adaptation;
  if (state_.position.size() != C * P || state_.inv_metric.size() != C * P || state_.step_size.size() != C ||
      state_.step_adaptation.size() != C || ma.mean.size() != C * P || ma.m2.size() != C * P ||
      state_.trajectory_adaptation.centre.size() != C * P)
    throw std::invalid_argument("state: inconsistent array sizes");
  const std::vector<int> ties = target.metric_ties();
  if (!ties.empty() && ties.size() != P) throw std::invalid_argument("target: metric_ties has the wrong size");
  if (!(settings_.step_jitter >= 0 && settings_.step_jitter < 1))
    throw std::invalid_argument("step_jitter: must be in [0, 1)");
  if (!(settings_.length_jitter >= 0 && settings_.length_jitter < 1))
    throw std::invalid_argument("length_jitter: must be in [0, 1)");
  if (!(settings_.target_accept > 0 && settings_.target_accept < 1))
    throw std::invalid_argument("target_accept: must be in (0, 1)");
  if (settings_.max_tree_depth < 1) throw std::invalid_argument("max_tree_depth: must be at least 1");
  if (settings_.kernel == Kernel::nuts && settings_.n_steps != 0)
    throw std::invalid_argument("n_steps: NUTS chooses its own number of steps");
  step_adapter_.delta = settings_.target_accept;
  metric_ = DiagonalMetric(C, P, state_.inv_metric);
  z_ = Points<T>(C, P);
  for (std::size_t i = 0; i < C * P; ++i) z_.q[i] = T(state_.position[i]);
  const std::size_t G = groups_.size();
  if (G > 0) {
    if (state_.precisions.empty())
      for (std::size_t c = 0; c < C; ++c)
        for (const PrecisionGroup& g : groups_)
          state_.precisions.push_back(g.warmup_precision > 0 ? g.warmup_precision : g.shape / g.rate);
    if (state_.precisions.size() != C * G) throw std::invalid_argument("state: precisions have the wrong size");
    if (!settings_.marginal_precisions)
      integrator_.condition_on(state_.precisions.data());  // the vector keeps its size from here on
  }
  integrator_.evaluate(z_);
  for (std::size_t c = 0; c < C; ++c)
    if (!std::isfinite(double(z_.logp[c])))
      throw std::invalid_argument("init: chain " + std::to_string(c) + " starts where the log density is not finite");
  if (G > 0 && state_.point_logp.size() == C && state_.point_grad.size() == C * P) {
    // The saved values differ from a fresh evaluation by rounding only (Gibbs steps update them in
    // place); anything more means the target changed (other data), and the fresh values stay.
    const double tol = std::sqrt(double(std::numeric_limits<T>::epsilon()));
    bool same = true;
    for (std::size_t c = 0; c < C; ++c)
      same = same && std::fabs(state_.point_logp[c] - double(z_.logp[c])) <= tol * (1 + std::fabs(double(z_.logp[c])));
    if (same) {
      for (std::size_t c = 0; c < C; ++c) z_.logp[c] = T(state_.point_logp[c]);
      for (std::size_t i = 0; i < C * P; ++i) z_.grad[i] = T(state_.point_grad[i]);
    }
  }
  if (settings_.kernel == Kernel::nuts)
    nuts_ = std::make_unique<Nuts<T>>(C, P, settings_.max_tree_depth, settings_.max_energy_error);
  else
    static_hmc_ = std::make_unique<StaticHmc<T>>(C, P, settings_.max_energy_error);
  // The length is selected by ESS per gradient from the third slow window to the end of the last
  // (blocks of a tenth of warm-up, 25 to 200 transitions, at least three of them); before it, and
  // with shorter warm-ups, ChEES.
  const std::vector<std::size_t>& ends = windows_.window_ends();
  const std::size_t block = std::min<std::size_t>(std::max<std::size_t>(state_.warmup / 10, 25), 200);
  if (settings_.kernel == Kernel::static_hmc && settings_.n_steps == 0 && target.n_summaries() > 0 &&
      ends.size() >= 3 && ends.back() - ends[1] >= 3 * block) {
    trajectory_adapter_.select_from = ends[1] + 1;
    trajectory_adapter_.select_to = ends.back() + 1;
    trajectory_adapter_.block_length = block;
  }
  if (state_.trajectory_adaptation.block.size() % (C * std::max<std::size_t>(target.n_summaries(), 1)) != 0)
    throw std::invalid_argument("state: inconsistent array sizes");
  summaries_.resize(C * target.n_summaries());
  record_.resize(C, P);
  eps_.resize(C);
  n_steps_.resize(C);
  stats_.resize(C);
}

template <class T>
HmcSampler<T>::~HmcSampler() = default;

template <class T>
const HmcState& HmcSampler<T>::state() {
  for (std::size_t i = 0; i < z_.q.size(); ++i) state_.position[i] = double(z_.q[i]);
  state_.inv_metric = metric_.values();
  if (!groups_.empty()) {
    state_.point_logp.assign(z_.logp.begin(), z_.logp.end());
    state_.point_grad.assign(z_.grad.begin(), z_.grad.end());
  }
  return state_;
}

// Stan's heuristic, for all chains in lockstep: double or halve the step size until the acceptance
// probability of one step from a fresh momentum crosses 0.8. Then dual averaging restarts there.
template <class T>
void HmcSampler<T>::find_initial_step_sizes(std::uint64_t iteration) {
  const std::size_t C = state_.chains, P = state_.dim;
  std::vector<double>& eps = eps_;
  std::vector<double> h0(C);
  std::vector<int> direction(C, 0);
  std::vector<std::size_t> active;
  for (std::size_t c = 0; c < C; ++c) eps[c] = state_.step_size[c] > 0 ? state_.step_size[c] : 1.0;
  if (settings_.initial_step_size > 0 && !(state_.step_size[0] > 0)) {
    for (std::size_t c = 0; c < C; ++c) eps[c] = settings_.initial_step_size;
  } else {
    for (std::size_t c = 0; c < C; ++c) active.push_back(c);
  }
  Points<T> trial = z_;
  std::vector<T> p(C * P);
  for (int attempt = 0; attempt < 100 && !active.empty(); ++attempt) {
    for (std::size_t c : active) {
      trial.copy_from(c, z_, c);
      metric_.draw_momentum(Stream(rng_, c, iteration, Purpose::init), c, p.data() + c * P, std::uint64_t(attempt) * P);
      h0[c] = -double(z_.logp[c]) + metric_.kinetic(c, p.data() + c * P);
    }
    integrator_.step(trial, p, metric_, eps.data(), active);
    std::vector<std::size_t> still;
    for (std::size_t c : active) {
      double dh = h0[c] - (-double(trial.logp[c]) + metric_.kinetic(c, p.data() + c * P));
      if (!std::isfinite(dh)) dh = -std::numeric_limits<double>::infinity();
      if (attempt == 0) direction[c] = dh > kLogTargetInit ? 1 : -1;
      const bool crossed = direction[c] == 1 ? !(dh > kLogTargetInit) : !(dh < kLogTargetInit);
      if (attempt > 0 && crossed) continue;
      eps[c] = direction[c] == 1 ? 2 * eps[c] : 0.5 * eps[c];
      if (eps[c] > 1e7 || eps[c] < 1e-12) {
        eps[c] = std::fmin(std::fmax(eps[c], 1e-12), 1e7);
        continue;
      }
      still.push_back(c);
    }
    active.swap(still);
  }
  double log_eps = 0;
  for (std::size_t c = 0; c < C; ++c) {
    state_.step_size[c] = eps[c];
    state_.step_adaptation[c] = DualAveraging::restart(eps[c]);
    log_eps += std::log(eps[c]) / double(C);
  }
  auto& traj = state_.trajectory_adaptation;
  if (std::isnan(traj.log_length)) traj.log_length = traj.log_length_avg = log_eps + std::log(kInitialLengthSteps);
}

template <class T>
bool HmcSampler<T>::transition(std::uint64_t it, StopCheck& stop) {
  const std::size_t C = state_.chains;
  const bool warmup = it < state_.warmup;
  StopCheck* poll = stop.active() ? &stop : nullptr;
  for (std::size_t c = 0; c < C; ++c) {
    const double u = Stream(rng_, c, it, Purpose::step_jitter).uniform(0);
    eps_[c] = state_.step_size[c] * (1 + settings_.step_jitter * (2 * u - 1));
  }
  if (settings_.kernel == Kernel::nuts) {
    if (!nuts_->transition(z_, metric_, eps_.data(), rng_, it, integrator_, record_, poll)) return false;
  } else {
    if (settings_.n_steps == 0) {
      for (std::size_t c = 0; c < C; ++c)
        n_steps_[c] = trajectory_adapter_.steps(state_.trajectory_adaptation, warmup, it, eps_[c]);
    } else {
      std::size_t L = settings_.n_steps;
      if (settings_.length_jitter > 0) {
        const std::size_t lo = std::size_t(std::ceil((1 - settings_.length_jitter) * double(L)));
        const double u = Stream(rng_, 0, it, Purpose::length_jitter).uniform(0);
        L = std::min(settings_.n_steps, std::max<std::size_t>(1, lo + std::size_t(u * double(L - lo + 1))));
      }
      std::fill(n_steps_.begin(), n_steps_.end(), std::uint32_t(L));
    }
    if (!static_hmc_->transition(z_, metric_, eps_.data(), n_steps_.data(), rng_, it, integrator_, record_, poll))
      return false;
  }
  if (!groups_.empty() && it >= gibbs_start()) gibbs(it);
  for (std::size_t c = 0; c < C; ++c) {
    const TransitionInfo& info = record_.info[c];
    DrawStats& s = stats_[c];
    s.accept_prob = info.accept_prob;
    s.step_size = info.step_size;
    s.logp = double(z_.logp[c]);
    s.energy = info.energy;
    s.n_steps = info.n_steps;
    s.tree_depth = info.tree_depth;
    s.trajectory_length = double(info.n_steps) * info.step_size;
    s.diverging = info.diverging;
    if (info.diverging) ++divergences_;
  }
  return true;
}

// Warm-up first learns the weights with the precisions held (at the groups' warmup_precision) for
// its first tenth, then lets Gibbs move them: started at once from small weights, the Gibbs steps
// draw huge precisions that hold the weights near zero for thousands of iterations. A function of
// the iteration, so a resumed run agrees; warm-up draws are discarded, so sampling stays exact.
template <class T>
std::uint64_t HmcSampler<T>::gibbs_start() const {
  return state_.warmup / 10;
}

// The precisions' conjugate draws given the points just kept: the second half of the iteration, so
// that an abandoned transition changes nothing. With marginal_precisions the target does not depend
// on them, so the points' densities stay as they are.
template <class T>
void HmcSampler<T>::gibbs(std::uint64_t it) {
  const std::size_t G = groups_.size();
  const bool update = !settings_.marginal_precisions;
  for (std::size_t c = 0; c < state_.chains; ++c)
    gibbs_precisions(groups_, z_.position(c), Stream(rng_, c, it, Purpose::gibbs), state_.precisions.data() + c * G,
                     update ? &z_.logp[c] : nullptr, update ? z_.gradient(c) : nullptr);
}

template <class T>
void HmcSampler<T>::adapt(std::uint64_t it) {
  const std::size_t C = state_.chains, P = state_.dim;
  if (settings_.adapt_step_size)
    for (std::size_t c = 0; c < C; ++c)
      state_.step_size[c] = step_adapter_.learn(state_.step_adaptation[c], record_.info[c].accept_prob);
  if (settings_.kernel == Kernel::static_hmc && settings_.n_steps == 0) {
    if (trajectory_adapter_.selecting(it)) {
      target_.summaries(z_.q.data(), C, summaries_.data());
      const bool metric_changes = settings_.adapt_metric && windows_.window_ends(std::size_t(it));
      trajectory_adapter_.select(state_.trajectory_adaptation, it, record_, summaries_.data(),
                                 target_.n_summaries(), metric_changes);
    } else if (trajectory_adapter_.block_length == 0 || it < trajectory_adapter_.select_from) {
      trajectory_adapter_.learn(state_.trajectory_adaptation, it, record_, metric_);
    }
  }
  if (settings_.adapt_metric && windows_.in_slow_window(std::size_t(it))) {
    metric_adapter_.add(state_.metric_adaptation, C, P, z_.q.data());
    if (windows_.window_ends(std::size_t(it))) {
      std::vector<double> inverse(P);
      for (std::size_t c = 0; c < C; ++c) {
        std::copy_n(metric_.inverse(c), P, inverse.begin());
        metric_adapter_.estimate(state_.metric_adaptation, c, P, inverse.data());
        metric_.set(c, inverse.data());
      }
      MetricAdapter::reset(state_.metric_adaptation);
      if (settings_.adapt_step_size) find_initial_step_sizes(it + 1);
    }
  }
  if (it + 1 == state_.warmup && settings_.adapt_step_size)
    for (std::size_t c = 0; c < C; ++c) state_.step_size[c] = DualAveraging::final_step(state_.step_adaptation[c]);
}

template <class T>
std::size_t HmcSampler<T>::run(std::size_t n_transitions, std::size_t thin, DrawSink<T>& sink,
                               const std::function<bool(std::size_t)>& progress,
                               const std::function<bool()>& interrupt) {
  if (thin < 1) throw std::invalid_argument("thin: must be at least 1");
  const std::size_t C = state_.chains, P = state_.dim;
  bool need_step = false;
  for (double e : state_.step_size) need_step = need_step || !(e > 0);
  if (need_step && n_transitions > 0) find_initial_step_sizes(state_.iteration);
  StopCheck stop(interrupt);
  std::size_t done = 0;
  while (done < n_transitions) {
    const std::uint64_t it = state_.iteration;
    if (!transition(it, stop)) break;
    if (it < state_.warmup) {
      adapt(it);
    } else if ((it - state_.warmup) % thin == 0 && !sink.full()) {
      for (std::size_t c = 0; c < C; ++c)
        sink.store(c, z_.position(c), P, stats_[c], symmetry_,
                   groups_.empty() ? nullptr : state_.precisions.data() + c * groups_.size());
      ++sink.written;
    }
    ++state_.iteration;
    ++done;
    if (progress && !progress(done)) break;
  }
  return done;
}

template <class T>
void HmcSampler<T>::set_points(const Points<T>& z) {
  if (z.q.size() != z_.q.size() || z.logp.size() != z_.logp.size() || z.grad.size() != z_.grad.size())
    throw std::invalid_argument("set_points: sizes do not match the sampler");
  z_ = z;
}

template class HmcSampler<double>;
template class HmcSampler<float>;

}  // namespace symhmc
