// Embedding the symhmc core in a C++ program, without Python: build a 1-8-1 tanh regression
// posterior, evaluate log density and gradient for two parameter vectors, and check the gradient
// against a central finite difference. Exits non-zero on a mismatch (the test suite runs it).
#include <cmath>
#include <cstdio>
#include <vector>

#include "symhmc/mlp.hpp"
#include "symhmc/simd.hpp"

int main() {
  using namespace symhmc;
  const std::size_t n = 50;
  std::vector<double> X(n), y(n);
  for (std::size_t i = 0; i < n; ++i) {
    X[i] = -2.0 + 4.0 * double(i) / double(n - 1);
    y[i] = std::sin(2.0 * X[i]);
  }
  MlpSpec spec;
  spec.sizes = {1, 8, 1};
  spec.activation = Activation::tanh;
  spec.likelihood = Likelihood::gaussian;
  spec.noise = 0.1;
  spec.weight_sd = {1.0, 1.0};
  spec.bias_sd = {1.0, 1.0};
  MlpPosterior<double> posterior(spec, X.data(), y.data(), n);

  const std::size_t P = posterior.dim(), K = 2;
  std::vector<double> theta(K * P), logp(K), grad(K * P);
  for (std::size_t i = 0; i < theta.size(); ++i) theta[i] = 0.5 * std::sin(0.7 * double(i) + 1.0);
  posterior.logp_grad(theta.data(), K, logp.data(), grad.data());

  double worst = 0;
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t p = 0; p < P; ++p) {
      const double h = 1e-6;
      std::vector<double> tp(theta.begin() + k * P, theta.begin() + (k + 1) * P), tm = tp;
      tp[p] += h;
      tm[p] -= h;
      double lp, lm;
      posterior.logp_grad(tp.data(), 1, &lp, nullptr);
      posterior.logp_grad(tm.data(), 1, &lm, nullptr);
      const double fd = (lp - lm) / (2 * h);
      worst = std::fmax(worst, std::fabs(fd - grad[k * P + p]) / std::fmax(1.0, std::fabs(fd)));
    }
  std::printf("kernel %s, P = %zu, logp = [%.6f, %.6f], max relative gradient error %.2e\n",
              isa_name(active_isa()), P, logp[0], logp[1], worst);
  return worst < 1e-5 ? 0 : 1;
}
