// Box-Muller standard normals from uniforms, compiled once per instruction set like the MLP kernels
// (kernels_<isa>.cpp); HMC draws a momentum vector per chain and transition with it.
#include <cstddef>
#if defined(__AVX__)
#include <immintrin.h>
#endif
#if defined(SYMHMC_KERNEL_NEON)
#include <arm_neon.h>
#endif

#include "kernels/kernels.hpp"

namespace symhmc {
namespace kernels {
namespace SYMHMC_KERNEL_NS {

#include "kernels/simd_math.hpp"

namespace {

template <int W>
struct BoxMuller {
  typedef Simd<double, W> S;
  typedef typename S::V V;

  // cos and sin of 2 pi v for 0 <= v <= 1. The quadrant comes from v itself: with q = round(4 v),
  // f = v - q / 4 is exact, so t = 2 pi f in [-pi/4, pi/4] carries a single rounding; the Taylor
  // series to degree 16 (cos) and 15 (sin) are then exact to ~1e-17 there.
  static SYMHMC_INLINE void cos_sin_turn(V v, V* c, V* s) {
    const double magic = BitsOf<double>::round_magic;
    const V shifted = v * 4.0 + magic;
    const V q = shifted - magic;
    const typename S::I quadrant = S::bits(shifted) & 3;
    const V t = (v - q * 0.25) * 6.283185307179586476925;
    const V t2 = t * t;
    static constexpr double cos_coef[] = {1.0 / 20922789888000.0, -1.0 / 87178291200.0, 1.0 / 479001600.0,
                                          -1.0 / 3628800.0, 1.0 / 40320.0, -1.0 / 720.0, 1.0 / 24.0, -0.5, 1.0};
    static constexpr double sin_coef[] = {1.0 / 1307674368000.0, -1.0 / 6227020800.0, 1.0 / 39916800.0,
                                          -1.0 / 362880.0, 1.0 / 5040.0, -1.0 / 120.0, 1.0 / 6.0};
    const V ct = horner(t2, cos_coef);               // cos t = sum (-1)^k t^2k / (2k)!
    const V st = t - t * t2 * horner(t2, sin_coef);  // sin t = t - t^3 (1/3! - t^2 / 5! + ...)
    // quadrant 0: (c, s); 1: (-s, c); 2: (-c, -s); 3: (s, -c)
    const typename S::I odd = -(quadrant & 1), cneg = -(((quadrant + 1) >> 1) & 1), sneg = -((quadrant >> 1) & 1);
    const V cv = S::select(odd, st, ct), sv = S::select(odd, ct, st);
    *c = S::from_bits(S::bits(cv) ^ (cneg & S::sign_bit()));
    *s = S::from_bits(S::bits(sv) ^ (sneg & S::sign_bit()));
  }

  template <int N>
  static SYMHMC_INLINE V horner(V x, const double (&c)[N]) {  // c[0] x^(N-1) + ... + c[N-1]
    V p = S::set1(c[0]);
    for (int i = 1; i < N; ++i) p = p * x + c[i];
    return p;
  }

  static void run(const double* u, const double* v, std::size_t n, double* out) {
    std::size_t i = 0;
    for (; i + W <= n; i += W) pairs(u + i, v + i, out + 2 * i);
    if (i < n) {  // the last pairs through a padded vector: the same arithmetic lane by lane
      double ut[W], vt[W], ot[2 * W];
      for (int k = 0; k < W; ++k) ut[k] = i + k < n ? u[i + k] : 0.5, vt[k] = i + k < n ? v[i + k] : 0.5;
      pairs(ut, vt, ot);
      for (std::size_t k = 0; i + k < n; ++k) out[2 * (i + k)] = ot[2 * k], out[2 * (i + k) + 1] = ot[2 * k + 1];
    }
  }
  // W pairs: out[2k] = r cos(2 pi v), out[2k + 1] = r sin(2 pi v) with r = sqrt(-2 log u).
  static SYMHMC_INLINE void pairs(const double* u, const double* v, double* out) {
    const V r = S::sqrt(S::log(S::load(u)) * -2.0);
    V c, s;
    cos_sin_turn(S::load(v), &c, &s);
    c *= r;
    s *= r;
    for (int k = 0; k < W; ++k) out[2 * k] = c[k], out[2 * k + 1] = s[k];
  }
};

}  // namespace

void box_muller(const double* u, const double* v, std::size_t n, double* out) {
  BoxMuller<kVectorBytes == 0 ? 1 : kVectorBytes / 8>::run(u, v, n, out);
}

}  // namespace SYMHMC_KERNEL_NS
}  // namespace kernels
}  // namespace symhmc
