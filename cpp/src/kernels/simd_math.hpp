// Portable SIMD vectors (GCC/Clang vector extensions) and the elementary functions the kernels need.
// Included only inside a per-ISA namespace (see mlp_kernel_impl.hpp): the instruction set comes from
// the flags of the translation unit, the lane count W from the caller.
//
// Accuracy: exp, expm1-based tanh, log and log1p are within a few ulp over the ranges used (the
// polynomials are truncated Taylor / atanh series on reduced arguments, Cody-Waite reduction).

#define SYMHMC_INLINE inline __attribute__((always_inline))

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
  static constexpr int lanes = W;
  static constexpr bool is_double = sizeof(T) == 8;

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
  static SYMHMC_INLINE V min(V a, V b) { return select((I)(a < b), a, b); }
  static SYMHMC_INLINE V max(V a, V b) { return select((I)(a > b), a, b); }
  static SYMHMC_INLINE V abs(V x) { return from_bits(bits(x) & ~sign_bit()); }
  static SYMHMC_INLINE I sign_bit() { return I{} + (Int(1) << (sizeof(T) * 8 - 1)); }
  static SYMHMC_INLINE V copysign(V magnitude, V sign) {
    return from_bits((bits(magnitude) & ~sign_bit()) | (bits(sign) & sign_bit()));
  }
  static SYMHMC_INLINE T sum(V v) {
    T s = 0;
    for (int i = 0; i < W; ++i) s += v[i];
    return s;
  }
  static SYMHMC_INLINE T hmax(V v) {
    T s = v[0];
    for (int i = 1; i < W; ++i) s = v[i] > s ? v[i] : s;
    return s;
  }

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
  // expm1(y) for 0 <= y <= 64 (double) / 32 (float); accurate near 0.
  static SYMHMC_INLINE V expm1_nonneg(V y) {
    V r;
    V scale = reduce_ln2(y, &r);
    return scale * expm1_reduced(r) + (scale - T(1));
  }
  // 1 / d. AVX-512 has a 14-bit reciprocal estimate; two Newton steps reach full double precision
  // (error ~ 2^-56 plus rounding) at a fraction of the cost of a 512-bit division.
  static SYMHMC_INLINE V reciprocal(V d) {
#if defined(__AVX512F__)
    if (W * sizeof(T) == 64) {
      V y;
      if (is_double) {
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
    const T big = is_double ? T(20.0) : T(10.0);  // tanh rounds to 1 beyond this
    V a = abs(x);
    a = select((I)(a > big), set1(big), a);       // NaN stays NaN
    V e = expm1_nonneg(a + a);
    return copysign(e * reciprocal(e + T(2)), x);
  }
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
