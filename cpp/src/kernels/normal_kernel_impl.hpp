// Box-Muller standard normals from uniforms, compiled once per instruction set like the MLP kernels
// (kernels_<isa>.cpp); HMC draws a momentum vector per chain and transition with it.
#include <cstddef>
#if defined(__AVX__)
#include <immintrin.h>
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
    V pc = S::set1(1.0 / 20922789888000.0);  // 1/16!
    pc = pc * t2 - 1.0 / 87178291200.0;
    pc = pc * t2 + 1.0 / 479001600.0;
    pc = pc * t2 - 1.0 / 3628800.0;
    pc = pc * t2 + 1.0 / 40320.0;
    pc = pc * t2 - 1.0 / 720.0;
    pc = pc * t2 + 1.0 / 24.0;
    pc = pc * t2 - 0.5;
    const V ct = pc * t2 + 1.0;
    V ps = S::set1(1.0 / 1307674368000.0);  // 1/15!
    ps = ps * t2 - 1.0 / 6227020800.0;
    ps = ps * t2 + 1.0 / 39916800.0;
    ps = ps * t2 - 1.0 / 362880.0;
    ps = ps * t2 + 1.0 / 5040.0;
    ps = ps * t2 - 1.0 / 120.0;
    ps = ps * t2 + 1.0 / 6.0;
    const V st = t - t * t2 * ps;
    // quadrant 0: (c, s); 1: (-s, c); 2: (-c, -s); 3: (s, -c)
    const typename S::I odd = -(quadrant & 1), cneg = -(((quadrant + 1) >> 1) & 1), sneg = -((quadrant >> 1) & 1);
    const V cv = S::select(odd, st, ct), sv = S::select(odd, ct, st);
    *c = S::from_bits(S::bits(cv) ^ (cneg & S::sign_bit()));
    *s = S::from_bits(S::bits(sv) ^ (sneg & S::sign_bit()));
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
