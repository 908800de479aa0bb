// Analytic targets for tests and users: a multivariate Gaussian (diagonal or dense covariance), a
// mixture of Gaussians with diagonal covariances, and Neal's funnel. All include their normalizing
// constants.
#pragma once
#include <vector>

#include "symhmc/target.hpp"

namespace symhmc {

class GaussianTarget : public Target<double> {
 public:
  // cov: dim x dim (dense, symmetric positive definite) or, when diagonal = true, the dim variances.
  GaussianTarget(std::vector<double> mean, std::vector<double> cov, bool diagonal);
  std::size_t dim() const override { return mean_.size(); }
  void logp_grad(const double* x, std::size_t K, double* logp, double* grad, int threads) const override;

 private:
  std::vector<double> mean_;
  bool diagonal_;
  std::vector<double> precision_;  // dense: dim x dim; diagonal: dim
  double log_norm_;
};

class GaussianMixtureTarget : public Target<double> {
 public:
  // weights: M (positive, normalized here); means, sds: M x dim. With reference_sd > 0 the target
  // splits as N(0, reference_sd^2 I) x (mixture / reference), for tempering (its evidence is 1).
  GaussianMixtureTarget(std::vector<double> weights, std::vector<double> means, std::vector<double> sds,
                        std::size_t dim, double reference_sd = 0.0);
  std::size_t dim() const override { return dim_; }
  void logp_grad(const double* x, std::size_t K, double* logp, double* grad, int threads) const override;
  bool can_split() const override { return reference_sd_ > 0; }
  void evaluate(const double* x, std::size_t K, double* log_ref, double* log_lik, double* grad_ref,
                double* grad_lik, int threads) const override;

 private:
  std::size_t dim_, n_components_;
  double reference_sd_;
  std::vector<double> log_weights_, means_, inv_sds_;
  std::vector<double> log_norms_;  // per component: log weight - sum log sd - dim/2 log 2pi
};

// Neal's funnel: v ~ N(0, scale^2), x_i ~ N(0, exp(v)) for i = 1..dim-1; coordinates (v, x_1, ...).
// Its neck defeats any single step size: the standard test of divergence handling.
class FunnelTarget : public Target<double> {
 public:
  FunnelTarget(std::size_t dim, double scale);
  std::size_t dim() const override { return dim_; }
  void logp_grad(const double* x, std::size_t K, double* logp, double* grad, int threads) const override;

 private:
  std::size_t dim_;
  double scale_;
};

}  // namespace symhmc
