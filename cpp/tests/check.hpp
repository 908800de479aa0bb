// A minimal harness for the role tests: CHECK records failures, main returns their count.
#pragma once
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "symhmc/target.hpp"

namespace symhmc_test {

inline int& failures() {
  static int n = 0;
  return n;
}

#define CHECK(cond, ...)                                          \
  do {                                                            \
    if (!(cond)) {                                                \
      ++symhmc_test::failures();                                  \
      std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      std::printf(__VA_ARGS__);                                   \
      std::printf("\n");                                          \
    }                                                             \
  } while (0)

// Independent Gaussian with the given standard deviations, centred at 0.
template <class T>
class BasicGaussian : public symhmc::Target<T> {
 public:
  explicit BasicGaussian(std::vector<double> sd) : sd_(std::move(sd)) {}
  std::size_t dim() const override { return sd_.size(); }
  void logp_grad(const T* x, std::size_t K, T* logp, T* grad, int) const override {
    const std::size_t P = dim();
    for (std::size_t k = 0; k < K; ++k) {
      double s = 0;
      for (std::size_t i = 0; i < P; ++i) {
        const double z = double(x[k * P + i]) / sd_[i];
        s += z * z;
        if (grad) grad[k * P + i] = T(-z / sd_[i]);
      }
      logp[k] = T(-0.5 * s);
    }
  }

 private:
  std::vector<double> sd_;
};
using Gaussian = BasicGaussian<double>;
using GaussianF = BasicGaussian<float>;

// A standard 1-D Gaussian that is -inf beyond x > edge: trajectories that cross it are divergent.
class Cliff : public Gaussian {
 public:
  explicit Cliff(double edge) : Gaussian({1.0}), edge_(edge) {}
  void logp_grad(const double* x, std::size_t K, double* logp, double* grad, int t) const override {
    Gaussian::logp_grad(x, K, logp, grad, t);
    for (std::size_t k = 0; k < K; ++k)
      if (x[k] > edge_) logp[k] = -std::numeric_limits<double>::infinity();
  }

 private:
  double edge_;
};

}  // namespace symhmc_test
