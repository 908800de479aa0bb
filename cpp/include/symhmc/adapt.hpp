// Warm-up adaptation, kept apart from the kernels: dual averaging of the step size, Welford
// variance estimates for the diagonal metric (tied over symmetry orbits), and Stan's window schedule.
#pragma once
#include <cmath>
#include <cstddef>
#include <vector>



namespace symhmc {

// Hoffman & Gelman (2014), Algorithm 5, with Stan's defaults.
struct DualAveraging {
  double delta = 0.8, gamma = 0.1, kappa = 0.75, t0 = 10.0;

  struct State {
    double mu = 0, h_bar = 0, log_eps_bar = 0;
    double count = 0;
  };
  // Starts a new adaptation phase around step size eps.
  static void restart(State& s, double eps) {
    s.mu = std::log(10.0 * eps);
    s.h_bar = 0;
    s.log_eps_bar = 0;
    s.count = 0;
  }
  // One update with acceptance statistic alpha; returns the step size to use next.
  double learn(State& s, double alpha) const {
    s.count += 1;
    const double t = s.count, eta = 1.0 / (t + t0);
    s.h_bar = (1 - eta) * s.h_bar + eta * (delta - alpha);
    const double log_eps = s.mu - std::sqrt(t) / gamma * s.h_bar;
    const double w = std::pow(t, -kappa);
    s.log_eps_bar = w * log_eps + (1 - w) * s.log_eps_bar;
    return std::exp(log_eps);
  }
  static double final_step(const State& s) { return std::exp(s.log_eps_bar); }
};

// Running mean and variance per coordinate (Welford).
struct Welford {
  static void reset(double* mean, double* m2, std::size_t dim) {
    for (std::size_t i = 0; i < dim; ++i) mean[i] = m2[i] = 0;
  }
  // Adds x as the n-th sample (n counts it).
  template <class T>
  static void add(double n, double* mean, double* m2, const T* x, std::size_t dim) {
    for (std::size_t i = 0; i < dim; ++i) {
      const double d = double(x[i]) - mean[i];
      mean[i] += d / n;
      m2[i] += d * (double(x[i]) - mean[i]);
    }
  }
  // The variance averaged over tie groups (ties[i] = group of coordinate i), then regularized as
  // Stan does, var <- n/(n+5) var + 5/(n+5) 1e-3 v, but with v the previous metric entry (in/out)
  // instead of 1: the shrinkage target follows the scale already learned, so coordinates with
  // variances far below 1e-3 are not inflated (a 1e-3 sd would otherwise get ~10x its variance).
  static void metric(double n, const double* m2, std::size_t dim, const std::vector<int>& ties, double* out) {
    std::vector<double> previous(out, out + dim);
    for (std::size_t i = 0; i < dim; ++i) out[i] = n > 1 ? m2[i] / (n - 1) : previous[i];
    if (!ties.empty()) {
      int groups = 0;
      for (int g : ties) groups = g + 1 > groups ? g + 1 : groups;
      std::vector<double> sum(groups, 0.0), count(groups, 0.0);
      for (std::size_t i = 0; i < dim; ++i) {
        sum[ties[i]] += out[i];
        count[ties[i]] += 1;
      }
      for (std::size_t i = 0; i < dim; ++i) out[i] = sum[ties[i]] / count[ties[i]];
    }
    for (std::size_t i = 0; i < dim; ++i) out[i] = (n / (n + 5.0)) * out[i] + 1e-3 * previous[i] * (5.0 / (n + 5.0));
  }
};

// Stan's warm-up windows: a fast initial buffer (step size only), slow windows doubling in length
// (metric estimated at the end of each), and a fast terminal buffer.
class WindowSchedule {
 public:
  WindowSchedule(std::size_t warmup, std::size_t init_buffer = 75, std::size_t term_buffer = 50,
                 std::size_t base_window = 25)
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
  bool in_slow_window(std::size_t it) const { return base_ > 0 && it >= init_ && it < warmup_ - term_; }
  bool window_ends(std::size_t it) const {
    for (std::size_t e : ends_)
      if (e == it) return true;
    return false;
  }
  std::size_t warmup() const { return warmup_; }

 private:
  std::size_t warmup_, init_ = 0, term_ = 0, base_ = 0;
  std::vector<std::size_t> ends_;
};

}  // namespace symhmc
