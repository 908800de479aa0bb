#include "symhmc/analytic.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace symhmc {
namespace {
constexpr double kHalfLog2Pi = 0.91893853320467274178;

// Cholesky factor L (lower) of a symmetric positive definite matrix; throws if not positive definite.
std::vector<double> cholesky(const std::vector<double>& a, std::size_t n) {
  std::vector<double> L(n * n, 0.0);
  for (std::size_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (std::size_t k = 0; k < j; ++k) d -= L[j * n + k] * L[j * n + k];
    if (!(d > 0)) throw std::invalid_argument("cov: must be symmetric positive definite");
    L[j * n + j] = std::sqrt(d);
    for (std::size_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (std::size_t k = 0; k < j; ++k) s -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = s / L[j * n + j];
    }
  }
  return L;
}
}  // namespace

GaussianTarget::GaussianTarget(std::vector<double> mean, std::vector<double> cov, bool diagonal)
    : mean_(std::move(mean)), diagonal_(diagonal) {
  const std::size_t n = mean_.size();
  if (n == 0) throw std::invalid_argument("mean: need at least one dimension");
  for (double m : mean_)
    if (!std::isfinite(m)) throw std::invalid_argument("mean: must be finite");
  double log_det = 0;
  if (diagonal_) {
    if (cov.size() != n) throw std::invalid_argument("cov: expected one variance per dimension");
    precision_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (!(cov[i] > 0) || !std::isfinite(cov[i])) throw std::invalid_argument("cov: variances must be positive");
      precision_[i] = 1.0 / cov[i];
      log_det += std::log(cov[i]);
    }
  } else {
    if (cov.size() != n * n) throw std::invalid_argument("cov: expected a dim x dim matrix");
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j)
        if (!std::isfinite(cov[i * n + j]) || std::fabs(cov[i * n + j] - cov[j * n + i]) >
                                                  1e-12 * (std::fabs(cov[i * n + j]) + std::fabs(cov[j * n + i])))
          throw std::invalid_argument("cov: must be finite and symmetric");
    const std::vector<double> L = cholesky(cov, n);
    for (std::size_t i = 0; i < n; ++i) log_det += 2 * std::log(L[i * n + i]);
    // precision = L^-T L^-1: invert L column by column.
    std::vector<double> Linv(n * n, 0.0);
    for (std::size_t c = 0; c < n; ++c) {
      for (std::size_t i = c; i < n; ++i) {
        double s = i == c ? 1.0 : 0.0;
        for (std::size_t k = c; k < i; ++k) s -= L[i * n + k] * Linv[k * n + c];
        Linv[i * n + c] = s / L[i * n + i];
      }
    }
    precision_.assign(n * n, 0.0);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j) {
        double s = 0;
        for (std::size_t k = std::max(i, j); k < n; ++k) s += Linv[k * n + i] * Linv[k * n + j];
        precision_[i * n + j] = s;
      }
  }
  log_norm_ = -0.5 * log_det - double(n) * kHalfLog2Pi;
}

void GaussianTarget::logp_grad(const double* x, std::size_t K, double* logp, double* grad, int) const {
  const std::size_t n = mean_.size();
  std::vector<double> r(n), g(n);
  for (std::size_t k = 0; k < K; ++k) {
    const double* xk = x + k * n;
    for (std::size_t i = 0; i < n; ++i) r[i] = xk[i] - mean_[i];
    double quad = 0;
    for (std::size_t i = 0; i < n; ++i) {
      double s;
      if (diagonal_) {
        s = precision_[i] * r[i];
      } else {
        s = 0;
        for (std::size_t j = 0; j < n; ++j) s += precision_[i * n + j] * r[j];
      }
      g[i] = -s;
      quad += r[i] * s;
    }
    const double lp = log_norm_ - 0.5 * quad;
    logp[k] = std::isnan(lp) ? -std::numeric_limits<double>::infinity() : lp;
    if (grad)
      for (std::size_t i = 0; i < n; ++i) grad[k * n + i] = g[i];
  }
}

GaussianMixtureTarget::GaussianMixtureTarget(std::vector<double> weights, std::vector<double> means,
                                             std::vector<double> sds, std::size_t dim, double reference_sd)
    : dim_(dim), n_components_(weights.size()), reference_sd_(reference_sd), means_(std::move(means)) {
  if (!(reference_sd >= 0) || !std::isfinite(reference_sd))
    throw std::invalid_argument("reference_sd: must be positive (or 0 for none)");
  if (dim_ == 0) throw std::invalid_argument("means: need at least one dimension");
  if (n_components_ == 0) throw std::invalid_argument("weights: need at least one component");
  if (means_.size() != n_components_ * dim_) throw std::invalid_argument("means: expected shape (M, dim)");
  if (sds.size() != n_components_ * dim_) throw std::invalid_argument("sds: expected shape (M, dim)");
  double total = 0;
  for (double w : weights) {
    if (!(w > 0) || !std::isfinite(w)) throw std::invalid_argument("weights: must be positive");
    total += w;
  }
  for (double m : means_)
    if (!std::isfinite(m)) throw std::invalid_argument("means: must be finite");
  inv_sds_.resize(sds.size());
  log_norms_.resize(n_components_);
  for (std::size_t m = 0; m < n_components_; ++m) {
    double ln = std::log(weights[m] / total) - double(dim_) * kHalfLog2Pi;
    for (std::size_t i = 0; i < dim_; ++i) {
      const double s = sds[m * dim_ + i];
      if (!(s > 0) || !std::isfinite(s)) throw std::invalid_argument("sds: must be positive");
      inv_sds_[m * dim_ + i] = 1.0 / s;
      ln -= std::log(s);
    }
    log_norms_[m] = ln;
  }
}

void GaussianMixtureTarget::logp_grad(const double* x, std::size_t K, double* logp, double* grad, int) const {
  std::vector<double> lc(n_components_);
  for (std::size_t k = 0; k < K; ++k) {
    const double* xk = x + k * dim_;
    double top = -std::numeric_limits<double>::infinity();
    for (std::size_t m = 0; m < n_components_; ++m) {
      double q = 0;
      for (std::size_t i = 0; i < dim_; ++i) {
        const double z = (xk[i] - means_[m * dim_ + i]) * inv_sds_[m * dim_ + i];
        q += z * z;
      }
      lc[m] = log_norms_[m] - 0.5 * q;
      top = std::max(top, lc[m]);
    }
    double s = 0;
    for (std::size_t m = 0; m < n_components_; ++m) s += std::exp(lc[m] - top);
    const double lp = top + std::log(s);
    logp[k] = std::isfinite(lp) ? lp : -std::numeric_limits<double>::infinity();
    if (!grad) continue;
    double* gk = grad + k * dim_;
    for (std::size_t i = 0; i < dim_; ++i) gk[i] = 0;
    for (std::size_t m = 0; m < n_components_; ++m) {
      const double w = std::exp(lc[m] - lp);  // responsibility
      for (std::size_t i = 0; i < dim_; ++i) {
        const double is = inv_sds_[m * dim_ + i];
        gk[i] -= w * (xk[i] - means_[m * dim_ + i]) * is * is;
      }
    }
  }
}

void GaussianMixtureTarget::evaluate(const double* x, std::size_t K, double* log_ref, double* log_lik,
                                     double* grad_ref, double* grad_lik, int threads) const {
  if (!can_split()) return Target<double>::evaluate(x, K, log_ref, log_lik, grad_ref, grad_lik, threads);  // throws
  std::vector<double> lp(K), g(K * dim_);
  logp_grad(x, K, lp.data(), g.data(), threads);
  const double inv_var = 1.0 / (reference_sd_ * reference_sd_);
  const double norm = -double(dim_) * (std::log(reference_sd_) + kHalfLog2Pi);
  for (std::size_t k = 0; k < K; ++k) {
    const double* xk = x + k * dim_;
    double lr = norm;
    for (std::size_t i = 0; i < dim_; ++i) lr -= 0.5 * xk[i] * xk[i] * inv_var;
    if (log_ref) log_ref[k] = lr;
    if (log_lik) log_lik[k] = std::isfinite(lp[k]) ? lp[k] - lr : -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < dim_; ++i) {
      const double gr = -xk[i] * inv_var;
      if (grad_ref) grad_ref[k * dim_ + i] = gr;
      if (grad_lik) grad_lik[k * dim_ + i] = g[k * dim_ + i] - gr;
    }
  }
}

FunnelTarget::FunnelTarget(std::size_t dim, double scale) : dim_(dim), scale_(scale) {
  if (dim < 2) throw std::invalid_argument("dim: the funnel needs at least 2 dimensions");
  if (!(scale > 0) || !std::isfinite(scale)) throw std::invalid_argument("scale: must be positive");
}

void FunnelTarget::logp_grad(const double* x, std::size_t K, double* logp, double* grad, int) const {
  const std::size_t n = dim_ - 1;
  for (std::size_t k = 0; k < K; ++k) {
    const double* xk = x + k * dim_;
    const double v = xk[0], inv_var = std::exp(-v);
    double lp = -0.5 * (v / scale_) * (v / scale_) - std::log(scale_) - kHalfLog2Pi;
    double gv = -v / (scale_ * scale_);
    for (std::size_t i = 1; i <= n; ++i) {
      lp += -0.5 * xk[i] * xk[i] * inv_var - 0.5 * v - kHalfLog2Pi;
      gv += 0.5 * xk[i] * xk[i] * inv_var - 0.5;
      if (grad) grad[k * dim_ + i] = -xk[i] * inv_var;
    }
    logp[k] = std::isnan(lp) ? -std::numeric_limits<double>::infinity() : lp;
    if (grad) grad[k * dim_] = gv;
  }
}

}  // namespace symhmc
