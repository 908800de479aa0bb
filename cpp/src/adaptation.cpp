#include "symhmc/adaptation.hpp"

#include <algorithm>

namespace symhmc {

double DualAveraging::learn(State& s, double alpha) const {
  s.count += 1;
  const double t = s.count, eta = 1.0 / (t + t0);
  s.h_bar = (1 - eta) * s.h_bar + eta * (delta - alpha);
  const double log_eps = s.mu - std::sqrt(t) / gamma * s.h_bar;
  const double w = std::pow(t, -kappa);
  s.log_eps_bar = w * log_eps + (1 - w) * s.log_eps_bar;
  return std::exp(log_eps);
}

WindowSchedule::WindowSchedule(std::size_t warmup, std::size_t init_buffer, std::size_t term_buffer,
                               std::size_t base_window)
    : warmup_(warmup) {
  if (warmup < 20) {  // too short to estimate a metric: step size only
    init_ = warmup, term_ = 0, base_ = 0;
    return;
  }
  if (init_buffer + base_window + term_buffer > warmup) {
    init_buffer = std::size_t(0.15 * double(warmup));
    term_buffer = std::size_t(0.1 * double(warmup));
    base_window = warmup - (init_buffer + term_buffer);
  }
  init_ = init_buffer, term_ = term_buffer, base_ = base_window;
  const std::size_t last = warmup - term_ - 1;  // last iteration of the last slow window
  std::size_t size = base_, end = init_ + base_ - 1;
  for (;;) {
    ends_.push_back(end);
    if (end == last) break;
    size *= 2;
    std::size_t next = end + size;
    if (next != last && next + 2 * size >= warmup - term_) next = last;
    if (next > last) next = last;
    end = next;
  }
}

bool WindowSchedule::window_ends(std::size_t it) const {
  return std::find(ends_.begin(), ends_.end(), it) != ends_.end();
}

MetricAdapter::State MetricAdapter::initial(std::size_t chains, std::size_t dim) {
  State s;
  s.mean.assign(chains * dim, 0.0);
  s.m2.assign(chains * dim, 0.0);
  return s;
}

namespace {
template <class T>
void welford_add(double n, double* mean, double* m2, const T* x, std::size_t dim) {
  for (std::size_t i = 0; i < dim; ++i) {
    const double d = double(x[i]) - mean[i];
    mean[i] += d / n;
    m2[i] += d * (double(x[i]) - mean[i]);
  }
}

// Sums of v over each tie group, written back to every member as the group mean.
void tie(std::vector<double>& v, const std::vector<int>& ties) {
  if (ties.empty()) return;
  const int groups = *std::max_element(ties.begin(), ties.end()) + 1;
  std::vector<double> sum(groups, 0.0), count(groups, 0.0);
  for (std::size_t i = 0; i < v.size(); ++i) sum[ties[i]] += v[i], count[ties[i]] += 1;
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = sum[ties[i]] / count[ties[i]];
}
}  // namespace

template <class T>
void MetricAdapter::add(State& s, std::size_t chains, std::size_t dim, const T* q) const {
  s.n += 1;
  for (std::size_t c = 0; c < chains; ++c)
    welford_add(s.n, s.mean.data() + c * dim, s.m2.data() + c * dim, q + c * dim, dim);
}

// The variances are averaged over tie groups first (a tied metric is one value per group), then
// regularized as Stan does, var <- n/(n+5) var + 5/(n+5) 1e-3 v, but with v the previous metric entry
// instead of 1: the shrinkage target follows the scale already learned, so coordinates with variances
// far below 1e-3 are not inflated.
void MetricAdapter::estimate(const State& s, std::size_t c, std::size_t dim, double* inverse) const {
  const double n = s.n;
  if (n < 2) return;
  std::vector<double> var(dim);
  for (std::size_t i = 0; i < dim; ++i) var[i] = s.m2[c * dim + i] / (n - 1);
  tie(var, ties_);
  for (std::size_t i = 0; i < dim; ++i) {
    const double v = (n / (n + 5.0)) * var[i] + 1e-3 * inverse[i] * (5.0 / (n + 5.0));
    if (std::isfinite(v) && v > 0) inverse[i] = v;
  }
}

void MetricAdapter::reset(State& s) {
  s.n = 0;
  std::fill(s.mean.begin(), s.mean.end(), 0.0);
  std::fill(s.m2.begin(), s.m2.end(), 0.0);
}

double TrajectoryAdapter::jitter(std::uint64_t iteration) {
  double h = 0, f = 0.5;
  for (std::uint64_t i = iteration + 1; i > 0; i >>= 1, f *= 0.5)
    if (i & 1) h += f;
  return h;  // the radical inverse of a positive integer is never 0
}

std::uint32_t TrajectoryAdapter::steps(const State& s, bool warmup, std::uint64_t iteration, double eps) const {
  const double n = std::ceil(jitter(iteration) * length(s, warmup) / eps);
  if (!(n >= 1)) return 1;
  return n > double(max_steps) ? max_steps : std::uint32_t(n);
}

TrajectoryAdapter::State TrajectoryAdapter::initial(std::size_t chains, std::size_t dim) {
  State s;
  s.centre.assign(chains * dim, 0.0);
  return s;
}

// With u = M^-1/2 (q - m) the chain's whitened offset from its centre, the ChEES gradient with
// respect to log T is h T (|u1|^2 - |u0|^2) u1' du1/dt, and du1/dt = M^-1/2 M^-1 p, so u1' du1/dt =
// (q1 - m)' p. Chains are weighted by acceptance. Dividing ChEES by T (per gradient, not per
// transition) turns the gradient into (d ChEES / d log T) / ChEES - 1.
template <class T>
void TrajectoryAdapter::learn(State& s, std::uint64_t iteration, const TransitionRecord<T>& record,
                              const DiagonalMetric& metric) const {
  const std::size_t C = metric.chains(), P = metric.dim();
  s.centre_n += 1;
  if (s.centre_n == 1)
    for (std::size_t i = 0; i < C * P; ++i) s.centre[i] = double(record.start[i]);
  const double T_len = length(s, true), h = jitter(iteration);
  double num = 0, den = 0, crit = 0, log_eps = 0;
  for (std::size_t c = 0; c < C; ++c) {
    const TransitionInfo& info = record.info[c];
    log_eps += std::log(info.step_size) / double(C);
    if (info.diverging) continue;
    const double* m = s.centre.data() + c * P;
    const double* inv = metric.inverse(c);
    const T* q0 = record.start.data() + c * P;
    const T* q1 = record.end.data() + c * P;
    const T* p1 = record.end_momentum.data() + c * P;
    double d0 = 0, d1 = 0, slope = 0;
    for (std::size_t i = 0; i < P; ++i) {
      const double a = double(q0[i]) - m[i], b = double(q1[i]) - m[i];
      d0 += a * a / inv[i], d1 += b * b / inv[i], slope += b * double(p1[i]);
    }
    const double g = h * T_len * (d1 - d0) * slope;
    if (!std::isfinite(g)) continue;
    num += info.accept_prob * g, den += info.accept_prob, crit += info.accept_prob * 0.25 * (d1 - d0) * (d1 - d0);
  }
  if (den > 0) {
    s.criterion = s.updates == 0 ? crit / den : 0.9 * s.criterion + 0.1 * crit / den;
    const double g = s.criterion > 0 ? num / den / s.criterion - 1 : 0;
    s.updates += 1;
    s.adam_m = beta1 * s.adam_m + (1 - beta1) * g;
    s.adam_v = beta2 * s.adam_v + (1 - beta2) * g * g;
    const double m_hat = s.adam_m / (1 - std::pow(beta1, s.updates));
    const double v_hat = s.adam_v / (1 - std::pow(beta2, s.updates));
    s.log_length += learning_rate * m_hat / (std::sqrt(v_hat) + 1e-12);
    // Keep T between one step and max_steps steps of the chains' typical step size.
    s.log_length = std::fmin(std::fmax(s.log_length, log_eps), log_eps + std::log(double(max_steps)));
    const double w = std::pow(s.updates, -kappa);
    s.log_length_avg = s.updates == 1 ? s.log_length : w * s.log_length + (1 - w) * s.log_length_avg;
  }
  // The centres follow the chains like a mean over the last centre_window draws; a transition moves
  // its chain to the end point with probability accept_prob, and the centre follows that expectation.
  const double w = 1.0 / std::min(s.centre_n, double(centre_window));
  for (std::size_t c = 0; c < C; ++c) {
    const double a = record.info[c].diverging ? 0.0 : record.info[c].accept_prob;
    for (std::size_t i = c * P; i < (c + 1) * P; ++i)
      s.centre[i] += w * (a * double(record.end[i]) + (1 - a) * double(record.start[i]) - s.centre[i]);
  }
  if (block_length > 0 && iteration + 1 == select_from) {  // the selection starts from ChEES's length
    s.base_log_length = s.log_length = s.log_length_avg;
    s.multiple = 0;
    s.settle = double(block_length / 4);
    s.tried.clear();
    s.block.clear();
    s.block_gradients = 0;
  }
}

template <class T>
void TrajectoryAdapter::select(State& s, std::uint64_t iteration, const TransitionRecord<T>& record,
                               const double* stats, std::size_t n_stats, bool metric_changes) const {
  const std::size_t C = record.info.size();
  if (s.settle > 0 && !metric_changes && iteration + 1 != select_to) {  // step size still settling
    s.settle -= 1;
    return;
  }
  s.block.insert(s.block.end(), stats, stats + C * n_stats);
  for (const TransitionInfo& info : record.info) s.block_gradients += double(info.n_steps);
  const std::size_t n = s.block.size() / (C * n_stats);
  const bool last = iteration + 1 == select_to;
  if (n < block_length && !metric_changes && !last) return;
  if (n >= 10) {  // a block cut shorter by a metric change says too little
    const double ess = block_ess(s.block.data(), n, C, n_stats);
    std::size_t k = 0;
    while (k < s.tried.size() && s.tried[k] != s.multiple) k += 3;
    if (k == s.tried.size()) s.tried.insert(s.tried.end(), {s.multiple, 0.0, 0.0});
    s.tried[k + 1] += ess, s.tried[k + 2] += s.block_gradients;
  }
  s.block.clear();
  s.block_gradients = 0;
  // The best multiple so far: the longest within 80% of the top score (block scores are noisy, and
  // favour short trajectories, whose slow components a block sees least). Then the next one to
  // measure: a step beyond the best when it is the shortest or the longest tried (downwards first),
  // else the best again (its score gets firmer).
  double top = 0, lo = INFINITY, hi = -INFINITY;
  for (std::size_t k = 0; k < s.tried.size(); k += 3) {
    top = std::fmax(top, s.tried[k + 1] / s.tried[k + 2]);
    lo = std::fmin(lo, s.tried[k]), hi = std::fmax(hi, s.tried[k]);
  }
  double best = s.tried.empty() ? s.multiple : hi, best_score = 0;  // nothing measurable: the longest
  for (std::size_t k = 0; k < s.tried.size() && top > 0; k += 3) {
    const double score = s.tried[k + 1] / s.tried[k + 2];
    if (score >= 0.8 * top && (best_score == 0 || s.tried[k] > best)) best = s.tried[k], best_score = score;
  }
  double next = best;
  if (metric_changes) {
    s.tried.clear();
    s.settle = double(block_length / 4);
  } else if (!last && !s.tried.empty()) {
    if (!(best_score > 0)) next = hi + std::fmax(2, hi - lo);  // nothing measurable yet: much longer
    else if (best == lo) next = best - 1;
    else if (best == hi) next = best + 1;
  }
  s.multiple = std::fmin(std::fmax(next, double(min_multiple)), double(max_multiple));
  s.log_length = s.log_length_avg = s.base_log_length + s.multiple * std::log(2.0);
}

double block_ess(const double* x, std::size_t n, std::size_t C, std::size_t m) {
  if (n < 4) return 0;
  double tau_sum = 0;
  std::size_t used = 0, unmeasured = 0;
  std::vector<double> mean(C);
  for (std::size_t j = 0; j < m; ++j) {
    auto at = [&](std::size_t t, std::size_t c) { return x[(t * C + c) * m + j]; };
    double W = 0, grand = 0;
    for (std::size_t c = 0; c < C; ++c) {
      double sum = 0;
      for (std::size_t t = 0; t < n; ++t) sum += at(t, c);
      mean[c] = sum / double(n);
      double ss = 0;
      for (std::size_t t = 0; t < n; ++t) ss += (at(t, c) - mean[c]) * (at(t, c) - mean[c]);
      W += ss / double(n - 1) / double(C);
      grand += mean[c] / double(C);
    }
    if (!(W > 0) || !std::isfinite(W)) continue;
    double B = 0;
    for (std::size_t c = 0; c < C && C > 1; ++c) B += (mean[c] - grand) * (mean[c] - grand) / double(C - 1);
    const double var_plus = double(n - 1) / double(n) * W + B;
    auto autocorrelation = [&](std::size_t k) {
      double acov = 0;
      for (std::size_t c = 0; c < C; ++c)
        for (std::size_t t = 0; t + k < n; ++t) acov += (at(t, c) - mean[c]) * (at(t + k, c) - mean[c]);
      return 1 - (W - acov / double(n) / double(C)) / var_plus;
    };
    // Geyer's initial monotone sequence: sums of adjacent pairs while positive, never increasing.
    double tau = -1, prev_pair = INFINITY;
    std::size_t k = 0;
    for (; k + 1 < n; k += 2) {
      double pair = (k == 0 ? 1.0 : autocorrelation(k)) + autocorrelation(k + 1);
      if (!(pair > 0)) break;
      pair = std::fmin(pair, prev_pair);
      tau += 2 * pair, prev_pair = pair;
    }
    tau_sum += std::fmax(tau, 1 / std::log10(double(n * C)));
    ++used;
    unmeasured += 2 * k >= n;
  }
  // When most statistics are still correlated over half the block, the chains are too slow at this
  // length for a block to measure (a truncated sum would make short trajectories look good).
  if (used == 0 || 2 * unmeasured > used) return 0;
  return double(n * C) * double(used) / tau_sum;
}

template void MetricAdapter::add<double>(State&, std::size_t, std::size_t, const double*) const;
template void MetricAdapter::add<float>(State&, std::size_t, std::size_t, const float*) const;
template void TrajectoryAdapter::learn<double>(State&, std::uint64_t, const TransitionRecord<double>&,
                                               const DiagonalMetric&) const;
template void TrajectoryAdapter::learn<float>(State&, std::uint64_t, const TransitionRecord<float>&,
                                              const DiagonalMetric&) const;
template void TrajectoryAdapter::select<double>(State&, std::uint64_t, const TransitionRecord<double>&,
                                                const double*, std::size_t, bool) const;
template void TrajectoryAdapter::select<float>(State&, std::uint64_t, const TransitionRecord<float>&,
                                               const double*, std::size_t, bool) const;

}  // namespace symhmc
