// Portable SIMD vectors (GCC/Clang vector extensions) and the elementary functions the kernels need.
// Included only inside a per-ISA namespace (see mlp_kernel_impl.hpp): the instruction set comes from
// the flags of the translation unit, the lane count W from the caller.
//
// Accuracy: exp, expm1-based tanh, log and log1p are within a few ulp over the ranges used (the
// polynomials are truncated Taylor / atanh series on reduced arguments, Cody-Waite reduction).

#pragma once  // per translation unit: every kernel header of one instruction set shares these
#define SYMHMC_INLINE inline __attribute__((always_inline))

#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
#elif defined(__AVX2__)
constexpr int kVectorBytes = 32;
#elif defined(SYMHMC_KERNEL_NEON)  // not __ARM_NEON: every aarch64 build has it, the scalar kernel too
constexpr int kVectorBytes = 16;
#else
constexpr int kVectorBytes = 0;  // scalar: one lane
#endif

template <class T, int W>
struct VectorOf {
  typedef T type __attribute__((vector_size(sizeof(T) * W)));
};
template <class T>
struct BitsOf;
template <>
struct BitsOf<double> {
  typedef long long type;
  static constexpr int mantissa_bits = 52;
  static constexpr long long exponent_bias = 1023;
  static constexpr long long exponent_mask = 0x7ff;
  static constexpr double round_magic = 6755399441055744.0;  // 1.5 * 2^52
};
template <>
struct BitsOf<float> {
  typedef int type;
  static constexpr int mantissa_bits = 23;
  static constexpr int exponent_bias = 127;
  static constexpr int exponent_mask = 0xff;
  static constexpr float round_magic = 12582912.0f;  // 1.5 * 2^23
};

template <class T, int W>
struct Simd {
  typedef typename VectorOf<T, W>::type V;
  typedef T scalar;
  typedef typename BitsOf<T>::type Int;
  typedef typename VectorOf<Int, W>::type I;
  static constexpr bool is_double = sizeof(T) == 8;

  template <class A, class B>
  static SYMHMC_INLINE A cast(B b) {
    static_assert(sizeof(A) == sizeof(B), "same size");
    A a;
    __builtin_memcpy(&a, &b, sizeof(A));
    return a;
  }
  static SYMHMC_INLINE V load(const T* p) {
    V v;
    __builtin_memcpy(&v, p, sizeof(V));
    return v;
  }
  static SYMHMC_INLINE void store(T* p, V v) { __builtin_memcpy(p, &v, sizeof(V)); }
  // s - 0 folds to a plain broadcast (V{} + s would add +0.0 first, a lane loop inserts lane by lane).
  static SYMHMC_INLINE V set1(T s) { return s - V{}; }
  static SYMHMC_INLINE V zero() { return V{}; }
  static SYMHMC_INLINE I bits(V v) { return (I)v; }
  static SYMHMC_INLINE V from_bits(I i) { return (V)i; }
  static SYMHMC_INLINE V select(I mask, V a, V b) { return from_bits((bits(a) & mask) | (bits(b) & ~mask)); }
  static SYMHMC_INLINE V max(V a, V b) { return select((I)(a > b), a, b); }
  static SYMHMC_INLINE V abs(V x) { return from_bits(bits(x) & ~sign_bit()); }
  static SYMHMC_INLINE V sqrt(V x) {  // correctly rounded, so the same on every instruction set
#if defined(__AVX512F__)
    if constexpr (W * sizeof(T) == 64) {
      if constexpr (is_double) return cast<V>(_mm512_sqrt_pd(cast<__m512d>(x)));
      else return cast<V>(_mm512_sqrt_ps(cast<__m512>(x)));
    }
#endif
#if defined(__AVX__)
    if constexpr (W * sizeof(T) == 32) {
      if constexpr (is_double) return cast<V>(_mm256_sqrt_pd(cast<__m256d>(x)));
      else return cast<V>(_mm256_sqrt_ps(cast<__m256>(x)));
    }
#endif
#if defined(SYMHMC_KERNEL_NEON)
    if constexpr (W * sizeof(T) == 16) {
      if constexpr (is_double) return cast<V>(vsqrtq_f64(cast<float64x2_t>(x)));
      else return cast<V>(vsqrtq_f32(cast<float32x4_t>(x)));
    }
#endif
    V r;
    for (int i = 0; i < W; ++i) r[i] = __builtin_sqrt(x[i]);
    return r;
  }
  static SYMHMC_INLINE I sign_bit() { return I{} + (Int(1) << (sizeof(T) * 8 - 1)); }
  static SYMHMC_INLINE V copysign(V magnitude, V sign) {
    return from_bits((bits(magnitude) & ~sign_bit()) | (bits(sign) & sign_bit()));
  }
  static SYMHMC_INLINE T sum(V v) {  // lane after lane (the order combine_lanes repeats)
    T s = v[0];
    for (int i = 1; i < W; ++i) s += v[i];
    return s;
  }
  // out[p] = sum of the lanes of v[p] for p < n, in a fixed order: on AVX-512 a tree (W vectors at a time
  // are transposed and added pairwise, ~2.6 operations per vector instead of ~7 for a reduction each),
  // elsewhere lane after lane. combine_lanes applies the same order across W vectors, lane by lane.
  static void sum_lanes(const V* v, long n, T* out) {
    long p = 0;
#if defined(__AVX512F__)
    if constexpr (W * sizeof(T) == 64) {
      for (; p + W <= n; p += W) sum_group(v + p, out + p);
      if (p < n) {  // the last vectors with zeros: each output lane only sees its own vector
        V tmp[W];
        T res[W];
        for (int k = 0; k < W; ++k) tmp[k] = p + k < n ? v[p + k] : zero();
        sum_group(tmp, res);
        for (long k = 0; p + k < n; ++k) out[p + k] = res[k];
      }
      return;
    }
#endif
    for (; p < n; ++p) out[p] = sum(v[p]);
  }
  static SYMHMC_INLINE V combine_lanes(const V* q) {
#if defined(__AVX512F__)
    if constexpr (W * sizeof(T) == 64 && is_double)
      return ((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7]));
    if constexpr (W * sizeof(T) == 64 && !is_double) {
      V g[4];
      for (int i = 0; i < 4; ++i) g[i] = (q[4 * i] + q[4 * i + 2]) + (q[4 * i + 1] + q[4 * i + 3]);
      return (g[0] + g[1]) + (g[2] + g[3]);
    }
#endif
    V s = q[0];
    for (int k = 1; k < W; ++k) s += q[k];
    return s;
  }
#if defined(__AVX512F__)
  // W vectors -> W lane sums: double ((x0+x1)+(x2+x3))+((x4+x5)+(x6+x7)); float, per group of four
  // G = (x0+x2)+(x1+x3), then (G0+G1)+(G2+G3).
  static SYMHMC_INLINE void sum_group(const V* v, T* out) {
    if constexpr (is_double) {
      __m512d s[4];
      for (int k = 0; k < 4; ++k) {
        const __m512d a = cast<__m512d>(v[2 * k]), b = cast<__m512d>(v[2 * k + 1]);
        s[k] = _mm512_add_pd(_mm512_unpacklo_pd(a, b), _mm512_unpackhi_pd(a, b));
      }
      __m512d u[2];
      for (int k = 0; k < 2; ++k)
        u[k] = _mm512_add_pd(_mm512_shuffle_f64x2(s[2 * k], s[2 * k + 1], 0x88),
                             _mm512_shuffle_f64x2(s[2 * k], s[2 * k + 1], 0xDD));
      _mm512_storeu_pd(reinterpret_cast<double*>(out),
                       _mm512_add_pd(_mm512_shuffle_f64x2(u[0], u[1], 0x88), _mm512_shuffle_f64x2(u[0], u[1], 0xDD)));
    } else {
      __m512 s[8];
      for (int k = 0; k < 8; ++k) {
        const __m512 a = cast<__m512>(v[2 * k]), b = cast<__m512>(v[2 * k + 1]);
        s[k] = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
      }
      __m512 w[4];
      for (int k = 0; k < 4; ++k) {
        const __m512d a = _mm512_castps_pd(s[2 * k]), b = _mm512_castps_pd(s[2 * k + 1]);
        w[k] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)), _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
      }
      __m512 x[2];
      for (int k = 0; k < 2; ++k)
        x[k] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * k], w[2 * k + 1], 0x88),
                             _mm512_shuffle_f32x4(w[2 * k], w[2 * k + 1], 0xDD));
      _mm512_storeu_ps(reinterpret_cast<float*>(out),
                       _mm512_add_ps(_mm512_shuffle_f32x4(x[0], x[1], 0x88), _mm512_shuffle_f32x4(x[0], x[1], 0xDD)));
    }
  }
#endif

  // Splits x = n ln2 + r, |r| <= ln2/2, and returns 2^n as a vector. n must be in the normal range.
  static SYMHMC_INLINE V reduce_ln2(V x, V* r) {
    const T inv_ln2 = T(1.4426950408889634);
    const T ln2_hi = is_double ? T(6.93147180369123816490e-01) : T(0.693359375);
    const T ln2_lo = is_double ? T(1.90821492927058770002e-10) : T(-2.12194440e-4);
    const T magic = BitsOf<T>::round_magic;
    V shifted = x * inv_ln2 + magic;  // rounds x / ln2 to an integer held in the low mantissa bits
    V n = shifted - magic;
    *r = (x - n * ln2_hi) - n * ln2_lo;
    I k = bits(shifted) - bits(set1(magic));
    return from_bits((k + BitsOf<T>::exponent_bias) << BitsOf<T>::mantissa_bits);
  }
  // expm1 on |r| <= ln2/2 (Taylor; the truncation error is below half an ulp).
  static SYMHMC_INLINE V expm1_reduced(V r) {
    V p;
    if (is_double) {
      p = set1(T(1.0 / 6227020800.0));           // 1/13!
      p = p * r + T(1.0 / 479001600.0);           // 1/12!
      p = p * r + T(1.0 / 39916800.0);
      p = p * r + T(1.0 / 3628800.0);
      p = p * r + T(1.0 / 362880.0);
      p = p * r + T(1.0 / 40320.0);
      p = p * r + T(1.0 / 5040.0);
      p = p * r + T(1.0 / 720.0);
      p = p * r + T(1.0 / 120.0);
      p = p * r + T(1.0 / 24.0);
      p = p * r + T(1.0 / 6.0);
      p = p * r + T(0.5);
    } else {
      p = set1(T(1.0 / 5040.0));
      p = p * r + T(1.0 / 720.0);
      p = p * r + T(1.0 / 120.0);
      p = p * r + T(1.0 / 24.0);
      p = p * r + T(1.0 / 6.0);
      p = p * r + T(0.5);
    }
    return (p * r) * r + r;
  }
  // exp(x); inputs are clamped to the normal range, NaN propagates.
  static SYMHMC_INLINE V exp(V x) {
    const T hi = is_double ? T(709.0) : T(88.0);
    const T lo = is_double ? T(-708.0) : T(-87.0);
    V xc = select((I)(x > hi), set1(hi), select((I)(x < lo), set1(lo), x));
    V r;
    V scale = reduce_ln2(xc, &r);
    return scale * (expm1_reduced(r) + T(1));
  }
  // 1 / d. AVX-512 has a 14-bit reciprocal estimate; two Newton steps reach full double precision
  // (error ~ 2^-56 plus rounding) at a fraction of the cost of a 512-bit division.
  static SYMHMC_INLINE V reciprocal(V d) {
#if defined(__AVX512F__)
    if constexpr (W * sizeof(T) == 64) {
      V y;
      if constexpr (is_double) {
        __m512d dv;
        __builtin_memcpy(&dv, &d, 64);
        __m512d r = _mm512_rcp14_pd(dv);
        __builtin_memcpy(&y, &r, 64);
      } else {
        __m512 dv;
        __builtin_memcpy(&dv, &d, 64);
        __m512 r = _mm512_rcp14_ps(dv);
        __builtin_memcpy(&y, &r, 64);
      }
      y = y * (T(2) - d * y);
      y = y * (T(2) - d * y);
      return y;
    }
#endif
    return T(1) / d;
  }
  static SYMHMC_INLINE V tanh(V x) {
    V t = x;
    tanh_n<1>(&t, nullptr);
    return t;
  }

  // tanh of U independent vectors, in place; d (if not null) receives 1 - tanh^2. The steps are written
  // across the U vectors so that their independent chains sit next to each other in program order: the
  // out-of-order window then overlaps them instead of waiting on one long dependency chain.
  //
  // Method: tanh |x| = e / (e + 2) with e = expm1(2 |x|), then the sign of x. On AVX-512 expm1 uses a
  // 16-entry table: 2|x| = (16 n + j) ln2 / 16 + 2 r, |2 r| <= ln2 / 32, exp(2|x|) = 2^n T_j exp(2 r) with
  // T_j = 2^(j/16) picked by vpermi2pd/vpermps from the low bits of the rounded 16 n + j, 2^n put in the
  // exponent field with integer adds, and a degree-7 (float: 4) Taylor polynomial for expm1(2 r). The
  // rounding error of T_j is folded into the polynomial's constant term (delta_j = (T_j - hi_j) / hi_j), so
  // e = 2^n hi_j (1 + p) - 1 is accurate to an ulp even where it cancels. One correctly rounded division
  // (it runs beside the FMA pipes) finishes. Max error ~3 ulp (float64) over the whole range; exactly odd;
  // NaN propagates; |x| > 20 (float: 10) gives +-1. AVX2: see tanh_avx2.
  template <int U>
  static SYMHMC_INLINE void tanh_n(V* x, V* d) {
#if defined(__AVX512F__)
    if constexpr (W * sizeof(T) == 64) {
      tanh_avx512<U, false>(x, d);
      return;
    }
#elif defined(__AVX2__)
    if constexpr (W * sizeof(T) == 32) {
      tanh_avx2<U, false>(x, d);
      return;
    }
#endif
    const T big = is_double ? T(20.0) : T(10.0);  // tanh rounds to 1 beyond this
    V e[U];
    for (int u = 0; u < U; ++u) {
      V a = abs(x[u]);
      a = select((I)(a > big), set1(big), a);  // NaN stays NaN
      e[u] = a + a;
    }
    expm1_nonneg_n<U>(e);
    for (int u = 0; u < U; ++u) {
      V t = e[u] * reciprocal(e[u] + T(2));
      if (d) d[u] = T(1) - t * t;
      x[u] = copysign(t, x[u]);
    }
  }

  // tanh(u / kTanhScale) for U vectors, in place. Callers that compute the argument as a sum of products
  // can fold the scale into their weights; the AVX-512 version then does the argument reduction with
  // additions only (round |u| to the integer 16 n + j, r = |u| - (16 n + j) exactly), which takes two
  // multiply-adds off the FMA pipes. Same accuracy as tanh_n up to the rounding of the scaled argument.
#if defined(__AVX512F__)
  static constexpr T kTanhScale = T(46.16624130844683);  // 32 / ln 2
  static constexpr bool kFastScaledTanh = W * sizeof(T) == 64;
#elif defined(__AVX2__)
  // 8 / ln 2 (float64) and 16 / ln 2 (float32): the tables of tanh_avx2 have 4 and 8 entries
  static constexpr T kTanhScale = is_double ? T(11.541560327111707) : T(23.083120654223414);
  static constexpr bool kFastScaledTanh = W * sizeof(T) == 32;
#else
  static constexpr T kTanhScale = T(46.16624130844683);
  static constexpr bool kFastScaledTanh = false;
#endif
  template <int U>
  static SYMHMC_INLINE void tanh_scaled_n(V* x) {
#if defined(__AVX512F__)
    if constexpr (W * sizeof(T) == 64) {
      tanh_avx512<U, true>(x, nullptr);
      return;
    }
#elif defined(__AVX2__)
    if constexpr (W * sizeof(T) == 32) {
      tanh_avx2<U, true>(x, nullptr);
      return;
    }
#endif
    for (int u = 0; u < U; ++u) x[u] = x[u] * (T(1) / kTanhScale);
    tanh_n<U>(x, nullptr);
  }

  template <int U>
  static SYMHMC_INLINE void expm1_nonneg_n(V* y) {
    V r[U], scale[U];
    for (int u = 0; u < U; ++u) scale[u] = reduce_ln2(y[u], &r[u]);
    for (int u = 0; u < U; ++u) y[u] = expm1_reduced(r[u]);
    for (int u = 0; u < U; ++u) y[u] = scale[u] * y[u] + (scale[u] - T(1));
  }

#if defined(__AVX512F__)
  // AVX-512 tanh. x = |u| (clamped) with u = z 32 / ln2 (the caller's scaled argument, or z times the
  // scale here): s = x + 1.5 2^52 rounds x to the integer 16 n + j held in the low mantissa bits,
  // r = x - (16 n + j) exactly (|r| <= 1/2), exp(2 z) = 2^n 2^(j/16) exp(r ln2 / 16). The table holds the
  // bits of hi_j = 2^(j/16) minus j << 48, so adding s << 48 as an integer gives the bits of 2^n hi_j in
  // one add; delta_j = (2^(j/16) - hi_j) / hi_j enters the polynomial's constant term, so that
  // e = 2^n hi_j (1 + p) - 1 = expm1(2 z) stays accurate where it cancels.
  template <int U, bool Scaled>
  static SYMHMC_INLINE void tanh_avx512(V* xv, V* dv) {
    if constexpr (is_double) {
      alignas(64) static const long long hi_tab[16] = {
          0x3ff0000000000000LL, 0x3fefb5586cf9890fLL, 0x3fef72b83c7d517bLL, 0x3fef387a6e756238LL,
          0x3fef06fe0a31b715LL, 0x3feedea64c123422LL, 0x3feebfdad5362a27LL, 0x3feeab07dd485429LL,
          0x3feea09e667f3bcdLL, 0x3feea11473eb0187LL, 0x3feeace5422aa0dbLL, 0x3feec49182a3f090LL,
          0x3feee89f995ad3adLL, 0x3fef199bdd85529cLL, 0x3fef5818dcfba487LL, 0x3fefa4afa2a490daLL};
      alignas(64) static const double dl_tab[16] = {
          0.0, 8.189317638195515e-17, -2.7939114859515733e-17, 7.826573258636076e-17,
          3.3484623336251524e-17, 3.750854201303127e-17, 1.9572585293112036e-17, 5.68648095791174e-17,
          -6.835808657661922e-17, -2.3591094770850053e-17, 5.1548301170786783e-17,
          1.5341410053603723e-17, 4.875160526227062e-17, 1.685487290628973e-17, 1.790126907604513e-17,
          -5.545065618639427e-17};
      const __m512d magic = _mm512_set1_pd(6755399441055744.0), one = _mm512_set1_pd(1.0);
      const __m512i hi0 = _mm512_load_si512(hi_tab), hi1 = _mm512_load_si512(hi_tab + 8);
      const __m512d dl0 = _mm512_load_pd(dl_tab), dl1 = _mm512_load_pd(dl_tab + 8);
      __m512d a[U], s[U], r[U], q[U], h[U], dl[U];
      for (int u = 0; u < U; ++u) {  // min returns its second operand (|u|) when one is NaN
        __m512d x = _mm512_abs_pd(cast<__m512d>(xv[u]));
        if constexpr (!Scaled) x = _mm512_mul_pd(x, _mm512_set1_pd(kTanhScale));
        a[u] = _mm512_min_pd(_mm512_set1_pd(923.3248261689366), x);  // |z| <= 20
      }
      for (int u = 0; u < U; ++u) s[u] = _mm512_add_pd(a[u], magic);
      for (int u = 0; u < U; ++u) r[u] = _mm512_sub_pd(a[u], _mm512_sub_pd(s[u], magic));
      // expm1(r c) = sum_k (r c)^k / k!, c = 2 / kTanhScale (= ln2 / 16 to double precision)
      for (int u = 0; u < U; ++u)
        q[u] = _mm512_fmadd_pd(_mm512_set1_pd(5.682086126528621e-14), r[u], _mm512_set1_pd(9.18121957384444e-12));
      for (int u = 0; u < U; ++u) {
        const __m512i si = _mm512_castpd_si512(s[u]);
        h[u] = _mm512_castsi512_pd(_mm512_add_epi64(_mm512_permutex2var_epi64(hi0, si, hi1), _mm512_slli_epi64(si, 48)));
      }
      for (int u = 0; u < U; ++u) q[u] = _mm512_fmadd_pd(q[u], r[u], _mm512_set1_pd(1.2715871950558131e-09));
      for (int u = 0; u < U; ++u) dl[u] = _mm512_permutex2var_pd(dl0, _mm512_castpd_si512(s[u]), dl1);
      for (int u = 0; u < U; ++u) q[u] = _mm512_fmadd_pd(q[u], r[u], _mm512_set1_pd(1.467610032291943e-07));
      for (int u = 0; u < U; ++u) q[u] = _mm512_fmadd_pd(q[u], r[u], _mm512_set1_pd(1.3550807779497457e-05));
      for (int u = 0; u < U; ++u) q[u] = _mm512_fmadd_pd(q[u], r[u], _mm512_set1_pd(0.0009383847928089872));
      for (int u = 0; u < U; ++u) q[u] = _mm512_fmadd_pd(q[u], r[u], _mm512_set1_pd(0.04332169878499658));
      for (int u = 0; u < U; ++u) q[u] = _mm512_fmadd_pd(q[u], r[u], dl[u]);  // expm1(r c) + delta_j
      for (int u = 0; u < U; ++u) q[u] = _mm512_fmadd_pd(h[u], q[u], _mm512_sub_pd(h[u], one));  // e
      for (int u = 0; u < U; ++u) q[u] = _mm512_div_pd(q[u], _mm512_add_pd(q[u], _mm512_set1_pd(2.0)));
      if (dv)
        for (int u = 0; u < U; ++u) dv[u] = cast<V>(_mm512_fnmadd_pd(q[u], q[u], one));
      for (int u = 0; u < U; ++u)  // sign of x
        xv[u] = cast<V>(_mm512_castsi512_pd(_mm512_ternarylogic_epi64(
            _mm512_castpd_si512(q[u]), _mm512_castpd_si512(cast<__m512d>(xv[u])),
            _mm512_set1_epi64((long long)0x8000000000000000ULL), 0xD8)));
    } else {
      alignas(64) static const int hi_tab[16] = {
          0x3f800000, 0x3f7daac3, 0x3f7b95c2, 0x3f79c3d3, 0x3f7837f0, 0x3f76f532, 0x3f75fed7, 0x3f75583f,
          0x3f7504f3, 0x3f7508a4, 0x3f75672a, 0x3f76248c, 0x3f7744fd, 0x3f78ccdf, 0x3f7ac0c7, 0x3f7d257d};
      alignas(64) static const float dl_tab[16] = {
          0.0f, 4.6285471455576044e-08f, -1.199215748926008e-08f, 4.7297824323777604e-08f,
          3.1934181521364735e-08f, 3.621057231839586e-08f, -3.0990719324108795e-08f,
          -7.475213337215791e-09f, 1.7114270889351246e-08f, -3.047683350132502e-08f,
          5.233334210430485e-09f, 6.10759176566944e-09f, -1.4719605090363075e-08f,
          -5.258795177098818e-09f, -6.128259677495862e-09f, 5.140609271592211e-09f};
      const __m512 magic = _mm512_set1_ps(12582912.0f), one = _mm512_set1_ps(1.0f);
      const __m512i hit = _mm512_load_si512(hi_tab);
      const __m512 dlt = _mm512_load_ps(dl_tab);
      __m512 a[U], s[U], r[U], q[U], h[U];
      for (int u = 0; u < U; ++u) {
        __m512 x = _mm512_abs_ps(cast<__m512>(xv[u]));
        if constexpr (!Scaled) x = _mm512_mul_ps(x, _mm512_set1_ps(kTanhScale));
        a[u] = _mm512_min_ps(_mm512_set1_ps(461.66241f), x);  // |z| <= 10
      }
      for (int u = 0; u < U; ++u) s[u] = _mm512_add_ps(a[u], magic);
      for (int u = 0; u < U; ++u) r[u] = _mm512_sub_ps(a[u], _mm512_sub_ps(s[u], magic));
      for (int u = 0; u < U; ++u)
        q[u] = _mm512_fmadd_ps(_mm512_set1_ps(1.467610104555206e-07f), r[u], _mm512_set1_ps(1.3550808034779038e-05f));
      for (int u = 0; u < U; ++u) {
        const __m512i si = _mm512_castps_si512(s[u]);
        h[u] = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_permutexvar_epi32(si, hit), _mm512_slli_epi32(si, 19)));
      }
      for (int u = 0; u < U; ++u) q[u] = _mm512_fmadd_ps(q[u], r[u], _mm512_set1_ps(0.0009383847936987877f));
      for (int u = 0; u < U; ++u) q[u] = _mm512_fmadd_ps(q[u], r[u], _mm512_set1_ps(0.043321698904037476f));
      for (int u = 0; u < U; ++u)
        q[u] = _mm512_fmadd_ps(q[u], r[u], _mm512_permutexvar_ps(_mm512_castps_si512(s[u]), dlt));
      for (int u = 0; u < U; ++u) q[u] = _mm512_fmadd_ps(h[u], q[u], _mm512_sub_ps(h[u], one));
      for (int u = 0; u < U; ++u) q[u] = _mm512_div_ps(q[u], _mm512_add_ps(q[u], _mm512_set1_ps(2.0f)));
      if (dv)
        for (int u = 0; u < U; ++u) dv[u] = cast<V>(_mm512_fnmadd_ps(q[u], q[u], one));
      for (int u = 0; u < U; ++u)
        xv[u] = cast<V>(_mm512_castsi512_ps(_mm512_ternarylogic_epi32(
            _mm512_castps_si512(q[u]), _mm512_castps_si512(cast<__m512>(xv[u])),
            _mm512_set1_epi32(int(0x80000000u)), 0xD8)));
    }
  }
#endif
#if defined(__AVX2__) && !defined(__AVX512F__)
  // AVX2 tanh: the AVX-512 method, fitted to 16 registers and to shuffles that pick among 8 dwords
  // (vpermd, vpermps). The tables have 4 entries for float64 (u = z 8 / ln2 = 4 n + j + r) and 8 for
  // float32 (u = z 16 / ln2), so |r ln2 / M| <= ln2 / 8 and ln2 / 16, and expm1 takes a fitted
  // polynomial of degree 9 (float32: 4). A float64 entry is two dwords: lane k's index is (2 j, 2 j + 1),
  // made by copying the low dword of s up (vpshufd), doubling it (which drops the bits of n) and or-ing
  // 1 into the high dword. The rest is as on AVX-512: 2^n from integer adds on the table's bits,
  // delta_j in the constant term, one division. Max error 3 ulp (float64), 2 ulp (float32); exactly odd.
  template <int U, bool Scaled>
  static SYMHMC_INLINE void tanh_avx2(V* xv, V* dv) {
    if constexpr (is_double) {
      alignas(32) static const long long hi_tab[4] = {0x3ff0000000000000LL, 0x3fef06fe0a31b715LL,
                                                      0x3feea09e667f3bcdLL, 0x3feee89f995ad3adLL};
      alignas(32) static const double dl_tab[4] = {0.0, 3.3484623336251524e-17, -6.835808657661922e-17,
                                                   4.875160526227062e-17};
      const __m256d magic = _mm256_set1_pd(6755399441055744.0), one = _mm256_set1_pd(1.0);
      const __m256d sign = _mm256_set1_pd(-0.0);
      const __m256i hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi_tab));
      const __m256i dlt = _mm256_load_si256(reinterpret_cast<const __m256i*>(dl_tab));
      const __m256i odd = _mm256_set1_epi64x(0x100000000LL);
      __m256d a[U], s[U], r[U], q[U];
      for (int u = 0; u < U; ++u) {  // min returns its second operand (|u|) when one is NaN
        __m256d x = _mm256_andnot_pd(sign, cast<__m256d>(xv[u]));
        if constexpr (!Scaled) x = _mm256_mul_pd(x, _mm256_set1_pd(kTanhScale));
        a[u] = _mm256_min_pd(_mm256_set1_pd(230.83120654223416), x);  // |z| <= 20
      }
      for (int u = 0; u < U; ++u) s[u] = _mm256_add_pd(a[u], magic);
      for (int u = 0; u < U; ++u) r[u] = _mm256_sub_pd(a[u], _mm256_sub_pd(s[u], magic));
      // expm1(r c) / r, c = 2 / kTanhScale = ln2 / 4: degree 8, fitted on |r| <= 1/2 (Chebyshev; relative
      // error 3e-19, where Taylor would need degree 9 for the same)
      for (int u = 0; u < U; ++u)
        q[u] = _mm256_fmadd_pd(_mm256_set1_pd(3.8832279230529377e-13), r[u], _mm256_set1_pd(2.0169017401284516e-11));
      for (int u = 0; u < U; ++u) q[u] = _mm256_fmadd_pd(q[u], r[u], _mm256_set1_pd(9.309529797907669e-10));
      for (int u = 0; u < U; ++u) q[u] = _mm256_fmadd_pd(q[u], r[u], _mm256_set1_pd(3.7606274664784194e-08));
      for (int u = 0; u < U; ++u) q[u] = _mm256_fmadd_pd(q[u], r[u], _mm256_set1_pd(1.302105287737929e-06));
      for (int u = 0; u < U; ++u) q[u] = _mm256_fmadd_pd(q[u], r[u], _mm256_set1_pd(3.757081682672302e-05));
      for (int u = 0; u < U; ++u) q[u] = _mm256_fmadd_pd(q[u], r[u], _mm256_set1_pd(0.0008672516978878371));
      for (int u = 0; u < U; ++u) q[u] = _mm256_fmadd_pd(q[u], r[u], _mm256_set1_pd(0.015014156684943793));
      for (int u = 0; u < U; ++u) q[u] = _mm256_fmadd_pd(q[u], r[u], _mm256_set1_pd(0.17328679513998632));
      for (int u = 0; u < U; ++u) {  // the table entries last: 16 registers do not hold them through the loop
        const __m256i si = _mm256_castpd_si256(s[u]);
        const __m256i lo = _mm256_shuffle_epi32(si, 0xA0);
        const __m256i idx = _mm256_or_si256(_mm256_add_epi32(lo, lo), odd);
        const __m256d h = _mm256_castsi256_pd(_mm256_add_epi64(_mm256_permutevar8x32_epi32(hi, idx), _mm256_slli_epi64(si, 50)));
        q[u] = _mm256_fmadd_pd(q[u], r[u], _mm256_castsi256_pd(_mm256_permutevar8x32_epi32(dlt, idx)));  // + delta_j
        q[u] = _mm256_fmadd_pd(h, q[u], _mm256_sub_pd(h, one));  // e
      }
      for (int u = 0; u < U; ++u) q[u] = _mm256_div_pd(q[u], _mm256_add_pd(q[u], _mm256_set1_pd(2.0)));
      if (dv)
        for (int u = 0; u < U; ++u) dv[u] = cast<V>(_mm256_fnmadd_pd(q[u], q[u], one));
      for (int u = 0; u < U; ++u)  // sign of x
        xv[u] = cast<V>(_mm256_or_pd(q[u], _mm256_and_pd(sign, cast<__m256d>(xv[u]))));
    } else {
      alignas(32) static const int hi_tab[8] = {0x3f800000, 0x3f7b95c2, 0x3f7837f0, 0x3f75fed7,
                                                0x3f7504f3, 0x3f75672a, 0x3f7744fd, 0x3f7ac0c7};
      alignas(32) static const float dl_tab[8] = {
          0.0f, -1.199215748926008e-08f, 3.1934181521364735e-08f, -3.0990719324108795e-08f,
          1.7114270889351246e-08f, 5.233334210430485e-09f, -1.4719605090363075e-08f, -6.128259677495862e-09f};
      const __m256 magic = _mm256_set1_ps(12582912.0f), one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
      const __m256i hit = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi_tab));
      const __m256 dlt = _mm256_load_ps(dl_tab);
      __m256 a[U], s[U], r[U], q[U], h[U];
      for (int u = 0; u < U; ++u) {
        __m256 x = _mm256_andnot_ps(sign, cast<__m256>(xv[u]));
        if constexpr (!Scaled) x = _mm256_mul_ps(x, _mm256_set1_ps(kTanhScale));
        a[u] = _mm256_min_ps(_mm256_set1_ps(230.83121f), x);  // |z| <= 10
      }
      for (int u = 0; u < U; ++u) s[u] = _mm256_add_ps(a[u], magic);
      for (int u = 0; u < U; ++u) r[u] = _mm256_sub_ps(a[u], _mm256_sub_ps(s[u], magic));
      for (int u = 0; u < U; ++u)  // expm1(r c) / r, c = ln2 / 8: degree 3, fitted (relative error 4e-9)
        q[u] = _mm256_fmadd_ps(_mm256_set1_ps(2.3483230506826658e-06f), r[u], _mm256_set1_ps(0.00010841663606697693f));
      for (int u = 0; u < U; ++u) {
        const __m256i si = _mm256_castps_si256(s[u]);
        h[u] = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_permutevar8x32_epi32(hit, si), _mm256_slli_epi32(si, 20)));
      }
      for (int u = 0; u < U; ++u) q[u] = _mm256_fmadd_ps(q[u], r[u], _mm256_set1_ps(0.0037535391747951508f));
      for (int u = 0; u < U; ++u) q[u] = _mm256_fmadd_ps(q[u], r[u], _mm256_set1_ps(0.08664339780807495f));
      for (int u = 0; u < U; ++u)
        q[u] = _mm256_fmadd_ps(q[u], r[u], _mm256_permutevar8x32_ps(dlt, _mm256_castps_si256(s[u])));
      for (int u = 0; u < U; ++u) q[u] = _mm256_fmadd_ps(h[u], q[u], _mm256_sub_ps(h[u], one));
      for (int u = 0; u < U; ++u) q[u] = _mm256_div_ps(q[u], _mm256_add_ps(q[u], _mm256_set1_ps(2.0f)));
      if (dv)
        for (int u = 0; u < U; ++u) dv[u] = cast<V>(_mm256_fnmadd_ps(q[u], q[u], one));
      for (int u = 0; u < U; ++u)
        xv[u] = cast<V>(_mm256_or_ps(q[u], _mm256_and_ps(sign, cast<__m256>(xv[u]))));
    }
  }
#endif
  static SYMHMC_INLINE V sigmoid(V x) { return reciprocal(T(1) + exp(-x)); }

  // log(x) for positive normal x.
  static SYMHMC_INLINE V log(V x) {
    const int mb = BitsOf<T>::mantissa_bits;
    I xi = bits(x);
    I e = ((xi >> mb) & BitsOf<T>::exponent_mask) - BitsOf<T>::exponent_bias;
    V m = from_bits((xi & ((Int(1) << mb) - 1)) | (Int(BitsOf<T>::exponent_bias) << mb));  // [1, 2)
    I big = (I)(m > T(1.4142135623730951));
    m = select(big, m * T(0.5), m);
    e = e + (big & 1);
    const T magic = BitsOf<T>::round_magic;
    V ef = from_bits(bits(set1(magic)) + e) - magic;  // exact int -> float for small |e|
    V f = m - T(1);
    V z = f / (f + T(2));                           // log m = 2 atanh z, |z| <= 0.172
    V z2 = z * z;
    V p;
    if (is_double) {
      p = set1(T(1.0 / 21));
      p = p * z2 + T(1.0 / 19);
      p = p * z2 + T(1.0 / 17);
      p = p * z2 + T(1.0 / 15);
      p = p * z2 + T(1.0 / 13);
      p = p * z2 + T(1.0 / 11);
      p = p * z2 + T(1.0 / 9);
      p = p * z2 + T(1.0 / 7);
      p = p * z2 + T(1.0 / 5);
      p = p * z2 + T(1.0 / 3);
    } else {
      p = set1(T(1.0 / 9));
      p = p * z2 + T(1.0 / 7);
      p = p * z2 + T(1.0 / 5);
      p = p * z2 + T(1.0 / 3);
    }
    const T ln2 = T(0.6931471805599453);
    return ef * ln2 + (T(2) * z + T(2) * z * z2 * p);
  }
  // log(1 + u) for 0 <= u <= 1, with the rounding of 1 + u compensated.
  static SYMHMC_INLINE V log1p_unit(V u) {
    V w = u + T(1);
    return log(w) + (u - (w - T(1))) / w;
  }
  // softplus(x) = log(1 + e^x), stable for any x (inf -> inf, -inf -> 0).
  static SYMHMC_INLINE V softplus(V x) {
    return max(x, zero()) + log1p_unit(exp(-abs(x)));
  }
};
