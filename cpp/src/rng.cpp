#include "symhmc/rng.hpp"

#include <vector>

#include "kernels/kernels.hpp"
#include "symhmc/simd.hpp"

namespace symhmc {
namespace {

using BoxMuller = void (*)(const double*, const double*, std::size_t, double*);

BoxMuller box_muller_kernel(Isa isa) {
  switch (isa) {
#if defined(SYMHMC_HAVE_X86_KERNELS)
    case Isa::avx512: return kernels::avx512::box_muller;
    case Isa::avx2: return kernels::avx2::box_muller;
#endif
#if defined(SYMHMC_HAVE_NEON_KERNELS)
    case Isa::neon: return kernels::neon::box_muller;
#endif
    default: return kernels::scalar::box_muller;
  }
}

}  // namespace

const double* Stream::normal_block(std::size_t n, std::uint64_t first_pair) const {
  // Per thread: chains draw their momenta in parallel.
  thread_local std::vector<double> u, v, z;
  const std::size_t pairs = (n + 1) / 2;
  if (u.size() < pairs) u.resize(pairs), v.resize(pairs), z.resize(2 * pairs);
  for (std::size_t i = 0; i < pairs; ++i) {
    std::uint32_t w[4];
    gen_.block(chain_, iter_lo_, tag_, std::uint32_t(first_pair + i) | 0x80000000u, w);
    u[i] = to_unit(w[0], w[1]);
    v[i] = to_unit(w[2], w[3]);
  }
  box_muller_kernel(active_isa())(u.data(), v.data(), pairs, z.data());
  return z.data();
}

}  // namespace symhmc
