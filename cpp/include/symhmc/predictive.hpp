// Posterior predictive summaries: network outputs of every draw at new inputs, reduced to a mean,
// a standard deviation and quantiles per output, a block of inputs at a time (memory O(draws x block)).
#pragma once
#include <cstddef>

#include "symhmc/mlp.hpp"

namespace symhmc {

enum class Link : int { identity = 0, sigmoid = 1, softmax = 2 };

// draws: S x dim; X: n x d_0. Outputs per (input, output unit): mean and sd (n x d_L), quantiles
// (nq x n x d_L) with linear interpolation between order statistics (numpy's default).
template <class T>
void predictive_summary(const MlpPosterior<T>& model, const T* draws, std::size_t S, const T* X, std::size_t n,
                        Link link, const double* probs, std::size_t nq, double* mean, double* sd,
                        double* quantiles, int threads = 0);

}  // namespace symhmc
