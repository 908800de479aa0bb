#include "symhmc/predictive.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace symhmc {
namespace {

template <class T>
void apply_link(Link link, T* f, std::size_t rows, std::size_t d) {
  if (link == Link::sigmoid) {
    for (std::size_t i = 0; i < rows * d; ++i) f[i] = T(1 / (1 + std::exp(-double(f[i]))));
  } else if (link == Link::softmax) {
    for (std::size_t r = 0; r < rows; ++r) {
      T* fr = f + r * d;
      const double top = *std::max_element(fr, fr + d);
      double s = 0;
      for (std::size_t j = 0; j < d; ++j) s += std::exp(double(fr[j]) - top);
      for (std::size_t j = 0; j < d; ++j) fr[j] = T(std::exp(double(fr[j]) - top) / s);
    }
  }
}

}  // namespace

template <class T>
void predictive_summary(const MlpPosterior<T>& model, const T* draws, std::size_t S, const T* X, std::size_t n,
                        Link link, const double* probs, std::size_t nq, double* mean, double* sd,
                        double* quantiles, int threads) {
  if (S == 0) throw std::invalid_argument("draws: need at least one draw");
  for (std::size_t k = 0; k < nq; ++k)
    if (!(probs[k] >= 0 && probs[k] <= 1)) throw std::invalid_argument("quantiles: must be in [0, 1]");
  const std::size_t d0 = std::size_t(model.layout().in_dim()), d = std::size_t(model.layout().out_dim());
  const std::size_t block = 64;
  std::vector<T> f(S * block * d);
  std::vector<double> values(S);
  for (std::size_t r0 = 0; r0 < n; r0 += block) {
    const std::size_t rows = std::min(block, n - r0);
    model.forward(draws, S, X + r0 * d0, rows, f.data(), threads);  // S x rows x d
    for (std::size_t s = 0; s < S; ++s) apply_link(link, f.data() + s * rows * d, rows, d);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t j = 0; j < d; ++j) {
        double m = 0;
        for (std::size_t s = 0; s < S; ++s) m += (values[s] = double(f[(s * rows + r) * d + j]));
        m /= double(S);
        double v = 0;
        for (std::size_t s = 0; s < S; ++s) v += (values[s] - m) * (values[s] - m);
        const std::size_t out = (r0 + r) * d + j;
        mean[out] = m;
        sd[out] = S > 1 ? std::sqrt(v / double(S - 1)) : 0.0;
        if (nq == 0) continue;
        std::sort(values.begin(), values.end());
        for (std::size_t k = 0; k < nq; ++k) {
          const double pos = probs[k] * double(S - 1);
          const std::size_t lo = std::size_t(std::floor(pos)), hi = std::min(lo + 1, S - 1);
          const double w = pos - double(lo);
          quantiles[k * n * d + out] = values[lo] + w * (values[hi] - values[lo]);
        }
      }
  }
}

template void predictive_summary<double>(const MlpPosterior<double>&, const double*, std::size_t, const double*,
                                         std::size_t, Link, const double*, std::size_t, double*, double*, double*,
                                         int);
template void predictive_summary<float>(const MlpPosterior<float>&, const float*, std::size_t, const float*,
                                        std::size_t, Link, const double*, std::size_t, double*, double*, double*,
                                        int);

}  // namespace symhmc
