// The Bayesian MLP posterior: independent Gaussian priors, a Gaussian, Bernoulli or categorical
// likelihood, and batched evaluation of log density and gradient for K parameter vectors at once.
//
// Parameter vector: for layers l = 1..L, W_l (d_{l-1} x d_l, row-major) then b_l (d_l); a trailing
// log noise scale when the Gaussian noise is inferred. h_l = act(h_{l-1} W_l + b_l) on hidden layers,
// the output layer is linear.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "symhmc/mlp_layout.hpp"
#include "symhmc/target.hpp"

namespace symhmc {

struct MlpSpec {
  std::vector<int> sizes;               // d_0 .. d_L (L >= 1)
  Activation activation = Activation::tanh;
  Likelihood likelihood = Likelihood::gaussian;
  double noise = 1.0;                   // fixed Gaussian noise sd (ignored when infer_noise)
  bool infer_noise = false;             // append s = log sigma, prior s ~ N(noise_loc, noise_scale^2)
  double noise_loc = 0.0, noise_scale = 1.0;
  std::vector<double> weight_sd;        // one per layer: prior sd of W_l (fan-in scaling already applied)
  std::vector<double> bias_sd;          // one per layer: prior sd of b_l
  // Hierarchical prior: the coordinates of these groups have precisions with Gamma hyperpriors
  // (their weight_sd / bias_sd entries are unused), drawn by the sampler's Gibbs steps.
  std::vector<PrecisionGroup> groups;
  // > 0 (inferred noise only): the noise precision 1 / sigma^2 ~ Gamma(noise_shape, noise_rate), FBM's
  // convention, instead of the log-normal prior on sigma; s = log sigma stays the sampled coordinate.
  double noise_shape = 0, noise_rate = 0;

  // Throws std::invalid_argument naming the offending field.
  void validate() const;
  MlpLayout layout() const;
};

// T is double or float. The data are copied in; the object is immutable and safe to share between
// threads after construction.
template <class T>
class MlpPosterior : public Target<T> {
 public:
  // X: n_rows x d_0 row-major. y: n_rows x d_L for gaussian, n_rows labels (0/1 or 0..C-1) otherwise.
  MlpPosterior(MlpSpec spec, const T* X, const T* y, std::size_t n_rows);

  const MlpSpec& spec() const { return spec_; }
  const MlpLayout& layout() const { return layout_; }
  std::size_t dim() const override { return static_cast<std::size_t>(layout_.n_params); }
  std::size_t n_rows() const { return n_rows_; }

  // theta: K x dim. Writes logp (K) and, when grad is not null, grad (K x dim). threads <= 0 means all.
  // Non-finite results are reported as logp = -inf (the gradient is then meaningless).
  void logp_grad(const T* theta, std::size_t K, T* logp, T* grad, int threads = 0) const override;
  // Orbits of the unit permutations of every hidden layer: one group for a hidden-to-hidden weight
  // matrix, one per input row of W_1, one per output column of W_L, one per hidden bias vector.
  std::vector<int> metric_ties() const override;
  // Split into its two terms (tempering needs them apart): log prior and log likelihood, each with
  // its gradient. Any output pointer may be null.
  bool can_split() const override { return true; }
  void evaluate(const T* theta, std::size_t K, T* log_prior, T* log_lik, T* grad_prior, T* grad_lik,
                int threads = 0) const override;
  // Hierarchical prior. Without precisions (logp_grad, evaluate) the group precisions are integrated
  // out: each group's marginal prior is a multivariate Student t. With them (the sampler's calls,
  // Target::logp_grad_given) the prior is Gaussian given the precisions, times their hyperprior.
  const std::vector<PrecisionGroup>& precision_groups() const override { return spec_.groups; }
  void logp_grad_given(const T* theta, const std::size_t* slots, std::size_t K, const double* precisions, T* logp,
                       T* grad, int threads = 0) const override;
  void evaluate_given(const T* theta, const std::size_t* slots, std::size_t K, const double* precisions,
                      T* log_prior, T* log_lik, T* grad_prior, T* grad_lik, int threads = 0) const override;
  // For the trajectory-length adapter: the network outputs at up to 16 evenly spaced training rows,
  // and the log noise when it is inferred (all unchanged by the hidden-unit symmetries).
  std::size_t n_summaries() const override;
  void summaries(const T* theta, std::size_t K, double* out) const override;
  // Network outputs f (K x n x d_L) at new inputs X_new (n x d_0).
  void forward(const T* theta, std::size_t K, const T* X_new, std::size_t n, T* out,
               int threads = 0) const;

 private:
  MlpSpec spec_;
  MlpLayout layout_;
  std::size_t n_rows_;
  std::vector<T> X_, y_;
  // Log prior and its gradient of one point: the fixed terms, then the groups' (given precisions, or
  // integrated out when tau is null).
  T prior_term(const T* theta, const double* tau, T* grad) const;

  std::vector<T> prior_inv_var_;  // per parameter (noise parameter excluded); 0 inside precision groups
  T prior_log_norm_ = 0;           // sum of -log sd - 0.5 log 2 pi over the fixed prior terms
  T log_noise_ = 0;                // log of the fixed noise scale (gaussian, noise not inferred)
};

extern template class MlpPosterior<double>;
extern template class MlpPosterior<float>;

}  // namespace symhmc
