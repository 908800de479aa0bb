#include "symhmc/gibbs.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace symhmc {
namespace {
constexpr double kLog2Pi = 1.8378770664093454836;
constexpr double kTwoPi = 6.283185307179586477;
constexpr std::uint64_t kGroupStride = 4096;  // stream indices per group
constexpr int kMaxAttempts = 1000;
}  // namespace

void check_precision_groups(const std::vector<PrecisionGroup>& groups, std::int64_t dim) {
  std::vector<char> used(std::size_t(dim > 0 ? dim : 0), 0);
  if (groups.size() >= (std::size_t(1) << 20)) throw std::invalid_argument("groups: too many precision groups");
  for (const PrecisionGroup& g : groups) {
    if (g.count < 1 || g.begin < 0 || g.begin + g.count > dim)
      throw std::invalid_argument("groups: a precision group lies outside the parameter vector");
    if (!(g.shape > 0) || !std::isfinite(g.shape) || !(g.rate > 0) || !std::isfinite(g.rate))
      throw std::invalid_argument("groups: hyperprior shapes and rates must be positive and finite");
    if (!(g.warmup_precision >= 0) || !std::isfinite(g.warmup_precision))
      throw std::invalid_argument("groups: warm-up precisions must be non-negative and finite");
    for (std::int64_t i = g.begin; i < g.begin + g.count; ++i) {
      if (used[std::size_t(i)]) throw std::invalid_argument("groups: precision groups overlap");
      used[std::size_t(i)] = 1;
    }
  }
}

double gamma_draw(const Stream& stream, std::uint64_t index_base, double shape) {
  const double k = shape < 1 ? shape + 1 : shape;
  const double d = k - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  double value = d;  // reached only after kMaxAttempts rejections: probability below 1e-300
  for (int j = 0; j < kMaxAttempts; ++j) {
    const std::uint64_t i = index_base + 3 * std::uint64_t(j);
    const double z = std::sqrt(-2.0 * std::log(stream.uniform(i))) * std::cos(kTwoPi * stream.uniform(i + 1));
    const double t = 1.0 + c * z;
    if (t <= 0) continue;
    const double v = t * t * t;
    if (std::log(stream.uniform(i + 2)) < 0.5 * z * z + d - d * v + d * std::log(v)) {
      value = d * v;
      break;
    }
  }
  if (shape < 1) value *= std::pow(stream.uniform(index_base + 3 * kMaxAttempts), 1.0 / shape);
  return value;
}

double log_gamma_density(double tau, double shape, double rate) {
  return shape * std::log(rate) - std::lgamma(shape) + (shape - 1) * std::log(tau) - rate * tau;
}

namespace {
template <class T>
double sum_of_squares(const T* x, std::int64_t n) {
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
  return s;
}
}  // namespace

double group_log_prior(const PrecisionGroup& g, double tau, double squares) {
  return 0.5 * double(g.count) * (std::log(tau) - kLog2Pi) - 0.5 * tau * squares +
         log_gamma_density(tau, g.shape, g.rate);
}

template <class T>
void gibbs_precisions(const std::vector<PrecisionGroup>& groups, const T* x, const Stream& stream, double* tau,
                      T* logp, T* grad) {
  double change = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const PrecisionGroup& group = groups[g];
    const T* xg = x + group.begin;
    const double squares = sum_of_squares(xg, group.count);
    const double old = tau[g];
    const double fresh = gamma_draw(stream, kGroupStride * g, group.shape + 0.5 * double(group.count)) /
                         (group.rate + 0.5 * squares);
    tau[g] = fresh;
    if (!grad) continue;
    change += group_log_prior(group, fresh, squares) - group_log_prior(group, old, squares);
    T* gg = grad + group.begin;
    const T shift = T(old - fresh);  // d/dx of -tau x^2 / 2 is -tau x
    for (std::int64_t i = 0; i < group.count; ++i) gg[i] += shift * xg[i];
  }
  if (logp) *logp = T(double(*logp) + change);
}

template void gibbs_precisions<double>(const std::vector<PrecisionGroup>&, const double*, const Stream&, double*,
                                       double*, double*);
template void gibbs_precisions<float>(const std::vector<PrecisionGroup>&, const float*, const Stream&, double*,
                                      float*, float*);

}  // namespace symhmc
