// The metric: one diagonal inverse mass matrix per chain. It draws momenta, measures kinetic energy
// and turns momenta into velocities. Adaptation (adaptation.hpp) decides its values; the metric only
// uses them.
#pragma once
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "symhmc/rng.hpp"

namespace symhmc {

class DiagonalMetric {
 public:
  DiagonalMetric() = default;
  // inverse: chains x dim inverse mass entries (the variances the metric stands for).
  DiagonalMetric(std::size_t chains, std::size_t dim, std::vector<double> inverse)
      : chains_(chains), dim_(dim), inverse_(std::move(inverse)), scale_(inverse_.size()) {
    if (inverse_.size() != chains * dim) throw std::invalid_argument("inv_metric: expected chains x dim entries");
    for (std::size_t c = 0; c < chains; ++c) set(c, inverse_.data() + c * dim);
  }

  std::size_t chains() const { return chains_; }
  std::size_t dim() const { return dim_; }
  const double* inverse(std::size_t c) const { return inverse_.data() + c * dim_; }
  const std::vector<double>& values() const { return inverse_; }

  void set(std::size_t c, const double* inverse) {
    for (std::size_t i = 0; i < dim_; ++i) {
      inverse_[c * dim_ + i] = inverse[i];
      scale_[c * dim_ + i] = 1.0 / std::sqrt(inverse[i]);  // the momentum's standard deviation
    }
  }

  // p ~ N(0, M) from the chain's momentum stream.
  template <class T>
  void draw_momentum(const Stream& stream, std::size_t c, T* p, std::uint64_t first_pair = 0) const {
    stream.normals(p, dim_, first_pair);
    const double* s = scale_.data() + c * dim_;
    for (std::size_t i = 0; i < dim_; ++i) p[i] = T(double(p[i]) * s[i]);
  }

  // p' M^-1 p / 2, in four partial sums: a fixed summation order without a serial dependency chain.
  template <class T>
  double kinetic(std::size_t c, const T* p) const {
    return 0.5 * dot_inverse(c, p, p);
  }

  // a' M^-1 b: the velocity of momentum b projected on a (U-turn checks, trajectory adaptation).
  template <class T, class U>
  double dot_inverse(std::size_t c, const T* a, const U* b) const {
    const double* m = inverse(c);
    double k[4] = {0, 0, 0, 0};
    std::size_t i = 0;
    for (; i + 4 <= dim_; i += 4)
      for (int j = 0; j < 4; ++j) k[j] += double(a[i + j]) * double(b[i + j]) * m[i + j];
    for (; i < dim_; ++i) k[0] += double(a[i]) * double(b[i]) * m[i];
    return (k[0] + k[1]) + (k[2] + k[3]);
  }

 private:
  std::size_t chains_ = 0, dim_ = 0;
  std::vector<double> inverse_, scale_;
};

}  // namespace symhmc
