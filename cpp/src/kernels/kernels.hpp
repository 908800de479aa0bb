// Interface between the core and the per-ISA kernels (MLP likelihood, normal draws). The same kernel
// source is compiled once per instruction set into its own namespace; nothing in a kernel translation
// unit may be shared with the rest of the library (no std templates), so that code built for AVX-512
// can never be picked by the linker for a function that runs on a CPU without it.
#pragma once
#include <cstddef>
#include <cstdint>

#include "symhmc/mlp_layout.hpp"

namespace symhmc {
namespace kernels {

// One unit of work: the log likelihood of rows [r0, r1) for n_pos parameter vectors.
template <class T>
struct LikelihoodTask {
  const MlpLayout* layout;
  const T* X;            // n_rows x d_0
  const T* y;            // gaussian: n_rows x d_L; otherwise n_rows labels
  std::size_t r0, r1;
  const T* theta;        // n_pos x theta_stride
  std::size_t n_pos;
  std::size_t theta_stride;
  const T* inv_var;      // gaussian: 1 / sigma^2 per position
  T* stat;               // per position: gaussian -> sum of squared residuals, else log likelihood
  T* grad;               // per position (stride grad_stride): d loglik / d weights; null = no gradient
  std::size_t grad_stride;
  T* out;                // forward only: network outputs, (r1 - r0) x d_L for the single position
  T* work;               // workspace, 64-byte aligned, of the size the kernel set asks for
  bool rows_in_lanes;    // lane kernel only: lanes hold data rows of one position (n_pos = 1)
};

// Positions in lanes keeps W copies of the W-lane gradients: worth it while they stay in cache. The
// split plan and the lane kernel's workspace both ask (static: each translation unit has its own copy).
static inline bool positions_in_lanes_fit(std::int64_t n_weights, int lanes, std::size_t scalar_bytes) {
  return std::size_t(n_weights) * std::size_t(lanes) * scalar_bytes * 2 <= (std::size_t(256) << 10);
}

template <class T>
struct KernelSet {
  int lanes;
  // One position, lanes spread over units (wide layers). Also computes forward outputs.
  std::size_t (*single_workspace)(const MlpLayout&);
  void (*single)(const LikelihoodTask<T>&);
  // Lanes hold positions (up to `lanes` of them) or data rows of one position: narrow nets.
  std::size_t (*lane_workspace)(const MlpLayout&);
  void (*lane)(const LikelihoodTask<T>&);
};

// Standard normals by Box-Muller: out[2i], out[2i + 1] from the uniforms u[i], v[i] in (0, 1), i < n.
#define SYMHMC_DECLARE_KERNELS(ns)                                                   \
  namespace ns {                                                                     \
  const KernelSet<double>& kernel_set_f64();                                         \
  const KernelSet<float>& kernel_set_f32();                                          \
  void box_muller(const double* u, const double* v, std::size_t n, double* out);     \
  }
SYMHMC_DECLARE_KERNELS(scalar)
SYMHMC_DECLARE_KERNELS(avx2)
SYMHMC_DECLARE_KERNELS(avx512)
SYMHMC_DECLARE_KERNELS(neon)
#undef SYMHMC_DECLARE_KERNELS

}  // namespace kernels
}  // namespace symhmc
