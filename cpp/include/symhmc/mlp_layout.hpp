// Plain description of an MLP's shape and options, shared by the model and the compiled kernels.
#pragma once
#include <cstdint>

namespace symhmc {

enum class Activation : int { tanh = 0, relu, sigmoid, gelu, silu, identity };
enum class Likelihood : int { gaussian = 0, bernoulli, categorical };

constexpr int kMaxLayers = 64;

struct MlpLayout {
  int n_layers = 0;                  // L
  int sizes[kMaxLayers + 1] = {};    // d_0 .. d_L
  std::int64_t w_offset[kMaxLayers] = {};
  std::int64_t b_offset[kMaxLayers] = {};
  std::int64_t n_weights = 0;        // entries of all W and b
  std::int64_t n_params = 0;         // n_weights (+1 with an inferred noise scale)
  Activation activation = Activation::tanh;
  Likelihood likelihood = Likelihood::gaussian;
  bool infer_noise = false;
  int in_dim() const { return sizes[0]; }
  int out_dim() const { return sizes[n_layers]; }
  // Multiply-adds of one forward pass over one data row (biases excluded).
  std::int64_t macs_per_row() const {
    std::int64_t m = 0;
    for (int l = 1; l <= n_layers; ++l) m += std::int64_t(sizes[l - 1]) * sizes[l];
    return m;
  }
};

}  // namespace symhmc
