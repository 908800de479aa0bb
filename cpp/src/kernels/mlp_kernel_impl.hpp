// The MLP log-likelihood kernels. This file is compiled once per instruction set (kernels_<isa>.cpp
// defines SYMHMC_KERNEL_NS); everything lives in that namespace.
//
// Two kernels, each built on a register-tiled product out[o][j] (+)= sum_c src(o, c) * M(c, j) in which
// M and out are SIMD vectors, so that the three products of back-propagation (forward H W, backward
// G W^T, weight gradient H^T G) need no transposed activations:
//
// * single (`Gemm`, src a broadcast scalar): one parameter vector, lanes over the units of a layer
//   (units padded to a multiple of the lane count). Used where the lane kernel would pad more (very
//   few data rows) or its per-lane gradients would not fit (very wide nets), and for predictions.
// * lane (`FGemm`, src a scalar or a vector): every scalar of the maths becomes a vector of W lanes,
//   each lane a data row of one position (rows in lanes: K = 1, and positions left over from full
//   groups) or one of W positions (positions in lanes: narrow nets, groups of W positions). Nothing
//   is padded but the last row vector; per-lane gradients are summed at the end of a task. Nets with
//   one hidden layer, one output and few inputs take a fused path that keeps a unit's whole forward
//   and backward pass in registers.
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

// Register tiles. kTileRows x kTileVecs accumulators for the products; the fused path (one hidden layer)
// keeps kFusedSlots slots x kFusedWideUnits units of forward sums (plus kFusedSlots inputs and a weight)
// in registers when the input is wide.
#if defined(__AVX512F__)
constexpr int kTileRows = 6, kTileVecs = 4;  // 24 accumulators of 32 registers
constexpr int kFusedSlots = 4, kFusedWideUnits = 4;
#elif defined(__AVX2__)
constexpr int kTileRows = 4, kTileVecs = 3;  // 12 accumulators of 16 registers
constexpr int kFusedSlots = 4, kFusedWideUnits = 2;  // 8 + 4 + 1 of 16 (4 x 4 spilled)
#elif defined(SYMHMC_KERNEL_NEON)
constexpr int kTileRows = 5, kTileVecs = 4;  // 20 accumulators, 4 + 5 operands: 32 registers (6 x 4 spills)
constexpr int kFusedSlots = 4, kFusedWideUnits = 4;
#else
constexpr int kTileRows = 2, kTileVecs = 2;
constexpr int kFusedSlots = 4, kFusedWideUnits = 4;
#endif

template <class T>
constexpr int lanes_for() {
  return kVectorBytes == 0 ? 1 : kVectorBytes / int(sizeof(T));
}

constexpr std::size_t kAlign = 64;
SYMHMC_INLINE std::size_t round_up(std::size_t n, std::size_t m) { return (n + m - 1) / m * m; }

// ---------------------------------------------------------------------------------------------------
template <class T, int W>
struct Gemm {
  typedef Simd<T, W> S;
  typedef typename S::V V;

  // Scalars src(o, c) = p[o * so + c * sc], broadcast.
  struct Source {
    const T* p;
    long so, sc;
  };

  // out[(o*os + j)*W] (+)= sum_c src(o, c) * M[(c*mc + j*mj)*W] for o0 <= o < o0+RB, j0 <= j < j0+JB.
  template <int RB, int JB, bool Accumulate>
  static SYMHMC_INLINE void tile(const Source& src, long o0, long n_c, const T* M, long mc, long mj,
                                 long j0, T* out, long os, const T* init) {
    V acc[RB][JB];
    for (int r = 0; r < RB; ++r)
      for (int j = 0; j < JB; ++j) {
        if (Accumulate)
          acc[r][j] = S::load(out + ((o0 + r) * os + j0 + j) * W);
        else
          acc[r][j] = init ? S::load(init + (j0 + j) * W) : S::zero();
      }
    for (long c = 0; c < n_c; ++c) {
      V m[JB];
      for (int j = 0; j < JB; ++j) m[j] = S::load(M + (c * mc + (j0 + j) * mj) * W);
      for (int r = 0; r < RB; ++r) {
        V s = S::set1(src.p[(o0 + r) * src.so + c * src.sc]);
        for (int j = 0; j < JB; ++j) acc[r][j] += s * m[j];
      }
    }
    for (int r = 0; r < RB; ++r)
      for (int j = 0; j < JB; ++j) S::store(out + ((o0 + r) * os + j0 + j) * W, acc[r][j]);
  }

  template <int RB, bool Accumulate>
  static SYMHMC_INLINE void row_strip(const Source& src, long o, long n_c, const T* M, long mc, long mj,
                                      long n_j, T* out, long os, const T* init) {
    long j = 0;
    for (; j + kTileVecs <= n_j; j += kTileVecs)
      tile<RB, kTileVecs, Accumulate>(src, o, n_c, M, mc, mj, j, out, os, init);
    for (; j < n_j; ++j) tile<RB, 1, Accumulate>(src, o, n_c, M, mc, mj, j, out, os, init);
  }

  template <bool Accumulate>
  static void run(const Source& src, long n_o, long n_c, const T* M, long mc, long mj, long n_j, T* out,
                  long os, const T* init) {
    long o = 0;
    for (; o + kTileRows <= n_o; o += kTileRows)
      row_strip<kTileRows, Accumulate>(src, o, n_c, M, mc, mj, n_j, out, os, init);
    for (; o < n_o; ++o) row_strip<1, Accumulate>(src, o, n_c, M, mc, mj, n_j, out, os, init);
  }
};

// ---------------------------------------------------------------------------------------------------
// Activations: z -> (act(z), act'(z)) over n contiguous vectors, in place for the value.
template <class S>
SYMHMC_INLINE void activate(Activation act, typename S::V* z, typename S::V* d, long n) {
  typedef typename S::V V;
  typedef typename S::I I;
  switch (act) {
    case Activation::tanh: {
      constexpr int U = 4;  // independent vectors in flight (see Simd::tanh_n)
      long i = 0;
      for (; i + U <= n; i += U) {
        V t[U], dd[U];
        for (int u = 0; u < U; ++u) t[u] = z[i + u];
        S::template tanh_n<U>(t, dd);
        for (int u = 0; u < U; ++u) z[i + u] = t[u], d[i + u] = dd[u];
      }
      for (; i < n; ++i) S::template tanh_n<1>(z + i, d + i);
      break;
    }
    case Activation::relu:
      for (long i = 0; i < n; ++i) {
        I pos = (I)(z[i] > 0);
        d[i] = S::select(pos, S::set1(1), S::zero());
        z[i] = S::select(pos, z[i], S::zero());
      }
      break;
    case Activation::sigmoid:
      for (long i = 0; i < n; ++i) {
        V s = S::sigmoid(z[i]);
        z[i] = s;
        d[i] = s * (1 - s);
      }
      break;
    case Activation::silu:
      for (long i = 0; i < n; ++i) {
        V s = S::sigmoid(z[i]);
        d[i] = s * (1 + z[i] * (1 - s));
        z[i] = z[i] * s;
      }
      break;
    case Activation::gelu:
      for (long i = 0; i < n; ++i) {
        const typename S::scalar c = 0.7978845608028654, a = 0.044715;  // c = sqrt(2/pi)
        V x = z[i], x2 = x * x;
        V t = S::tanh(x * (1 + x2 * a) * c);
        z[i] = x * (1 + t) * 0.5;
        d[i] = (1 + t) * 0.5 + x * (1 - t * t) * (1 + x2 * (3 * a)) * (0.5 * c);
      }
      break;
    case Activation::identity:
      for (long i = 0; i < n; ++i) d[i] = S::set1(1);
      break;
  }
}

// ---------------------------------------------------------------------------------------------------
// Workspace carving: consecutive 64-byte aligned arrays.
template <class T>
struct Carver {
  T* base;
  std::size_t used = 0;  // in elements
  T* take(std::size_t n) {
    T* p = base ? base + used : nullptr;
    used += round_up(n, kAlign / sizeof(T));
    return p;
  }
};

constexpr long kBlockRows = 32;  // rows per sub-block of the single kernel (fits L1/L2 for wide nets)

// ---------------------------------------------------------------------------------------------------
// Single position, lanes over units.
template <class T>
struct SingleKernel {
  static constexpr int W = lanes_for<T>();
  typedef Simd<T, W> S;
  typedef typename S::V V;
  typedef typename Gemm<T, W>::Source Source;

  struct Buffers {
    long dp[kMaxLayers + 1];  // padded widths
    T *w[kMaxLayers + 1], *wt[kMaxLayers + 1], *b[kMaxLayers + 1];
    T *gw[kMaxLayers + 1], *gb[kMaxLayers + 1];
    T *a[kMaxLayers + 1], *d[kMaxLayers + 1];
    T *g0, *g1;
    std::size_t size;
  };

  static Buffers carve(const MlpLayout& L, T* work) {
    Buffers B;
    Carver<T> c{work};
    long max_dp = 0;
    for (int l = 0; l <= L.n_layers; ++l) {
      B.dp[l] = long(round_up(std::size_t(L.sizes[l]), W));
      if (B.dp[l] > max_dp) max_dp = B.dp[l];
    }
    for (int l = 1; l <= L.n_layers; ++l) {
      B.w[l] = c.take(std::size_t(L.sizes[l - 1]) * B.dp[l]);
      B.wt[l] = l > 1 ? c.take(std::size_t(L.sizes[l]) * B.dp[l - 1]) : nullptr;
      B.b[l] = c.take(B.dp[l]);
      B.gw[l] = c.take(std::size_t(L.sizes[l - 1]) * B.dp[l]);
      B.gb[l] = c.take(B.dp[l]);
      B.a[l] = c.take(std::size_t(kBlockRows) * B.dp[l]);  // a[L] holds the network outputs
      B.d[l] = l < L.n_layers ? c.take(std::size_t(kBlockRows) * B.dp[l]) : nullptr;
    }
    B.g0 = c.take(std::size_t(kBlockRows) * max_dp);
    B.g1 = c.take(std::size_t(kBlockRows) * max_dp);
    B.size = c.used;
    return B;
  }

  static std::size_t workspace(const MlpLayout& L) { return carve(L, nullptr).size; }

  static void zero(T* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) p[i] = T(0);
  }

  // Copies W_l, b_l of one position into padded (and, for l > 1, transposed) buffers.
  static void unpack(const MlpLayout& L, const T* theta, const Buffers& B, bool need_transposes) {
    for (int l = 1; l <= L.n_layers; ++l) {
      const long din = L.sizes[l - 1], dout = L.sizes[l], dp = B.dp[l];
      const T* W_l = theta + L.w_offset[l - 1];
      const T* b_l = theta + L.b_offset[l - 1];
      for (long i = 0; i < din; ++i) {
        for (long j = 0; j < dout; ++j) B.w[l][i * dp + j] = W_l[i * dout + j];
        for (long j = dout; j < dp; ++j) B.w[l][i * dp + j] = T(0);
      }
      for (long j = 0; j < dp; ++j) B.b[l][j] = j < dout ? b_l[j] : T(0);
      if (l > 1 && need_transposes) {
        const long dpi = B.dp[l - 1];
        for (long j = 0; j < dout; ++j) {
          for (long i = 0; i < din; ++i) B.wt[l][j * dpi + i] = W_l[i * dout + j];
          for (long i = din; i < dpi; ++i) B.wt[l][j * dpi + i] = T(0);
        }
      }
    }
  }

  // Forward pass of rows [r, r + rows): fills a[l] (activations) and d[l] (derivatives).
  static void forward(const MlpLayout& L, const T* X, long r, long rows, const Buffers& B) {
    const long d0 = L.sizes[0];
    for (int l = 1; l <= L.n_layers; ++l) {
      const long din = L.sizes[l - 1], dp = B.dp[l];
      Source src = l == 1 ? Source{X + r * d0, d0, 1} : Source{B.a[l - 1], B.dp[l - 1], 1};
      Gemm<T, W>::template run<false>(src, rows, din, B.w[l], dp / W, 1, dp / W, B.a[l], dp / W, B.b[l]);
      if (l < L.n_layers)
        activate<S>(L.activation, reinterpret_cast<V*>(B.a[l]), reinterpret_cast<V*>(B.d[l]),
                    rows * dp / W);
    }
  }

  static void run(const LikelihoodTask<T>& t) {
    const MlpLayout& L = *t.layout;
    const Buffers B = carve(L, t.work);
    const bool want_grad = t.grad != nullptr;
    unpack(L, t.theta, B, want_grad);
    const int nl = L.n_layers;
    const long dout = L.sizes[nl], dpo = B.dp[nl], d0 = L.sizes[0];
    if (want_grad)
      for (int l = 1; l <= nl; ++l) {
        zero(B.gw[l], std::size_t(L.sizes[l - 1]) * B.dp[l]);
        zero(B.gb[l], B.dp[l]);
      }
    const T inv_var = t.inv_var ? t.inv_var[0] : T(1);
    T stat = 0;
    for (long r = long(t.r0); r < long(t.r1); r += kBlockRows) {
      const long rows = (long(t.r1) - r) < kBlockRows ? (long(t.r1) - r) : kBlockRows;
      forward(L, t.X, r, rows, B);
      const T* f = B.a[nl];
      if (t.out) {
        for (long i = 0; i < rows; ++i)
          for (long j = 0; j < dout; ++j) t.out[(r - long(t.r0) + i) * dout + j] = f[i * dpo + j];
        continue;
      }
      T* g = B.g0;
      zero(g, std::size_t(rows) * dpo);
      stat += loss(L, t.y, r, rows, f, dpo, inv_var, g);
      if (!want_grad) continue;
      for (int l = nl; l >= 1; --l) {
        const long din = L.sizes[l - 1], dp = B.dp[l];
        // weight gradient: gw[i][j] += sum_rows h[row][i] g[row][j]
        Source h = l == 1 ? Source{t.X + r * d0, 1, d0} : Source{B.a[l - 1], 1, B.dp[l - 1]};
        Gemm<T, W>::template run<true>(h, din, rows, g, dp / W, 1, dp / W, B.gw[l], dp / W, nullptr);
        V* gb = reinterpret_cast<V*>(B.gb[l]);
        const V* gv = reinterpret_cast<const V*>(g);
        for (long i = 0; i < rows; ++i)
          for (long j = 0; j < dp / W; ++j) gb[j] += gv[i * (dp / W) + j];
        if (l == 1) break;
        // back-propagate: g_prev[row][i] = (sum_j g[row][j] W[i][j]) * act'(z[row][i])
        const long dpi = B.dp[l - 1];
        T* g_prev = g == B.g0 ? B.g1 : B.g0;
        Gemm<T, W>::template run<false>(Source{g, dp, 1}, rows, L.sizes[l], B.wt[l], dpi / W, 1,
                                        dpi / W, g_prev, dpi / W, nullptr);
        V* gp = reinterpret_cast<V*>(g_prev);
        const V* dv = reinterpret_cast<const V*>(B.d[l - 1]);
        for (long i = 0; i < rows * dpi / W; ++i) gp[i] *= dv[i];
        g = g_prev;
      }
    }
    if (t.out) return;
    t.stat[0] = stat;
    if (!want_grad) return;
    for (int l = 1; l <= nl; ++l) {
      const long din = L.sizes[l - 1], dout_l = L.sizes[l], dp = B.dp[l];
      T* gW = t.grad + L.w_offset[l - 1];
      T* gb = t.grad + L.b_offset[l - 1];
      for (long i = 0; i < din; ++i)
        for (long j = 0; j < dout_l; ++j) gW[i * dout_l + j] = B.gw[l][i * dp + j];
      for (long j = 0; j < dout_l; ++j) gb[j] = B.gb[l][j];
    }
  }

  // Per-row loss on the network outputs f; writes d loglik / d f into g and returns the statistic.
  static T loss(const MlpLayout& L, const T* y, long r, long rows, const T* f, long dpo, T inv_var, T* g) {
    const long dout = L.sizes[L.n_layers];
    T stat = 0;
    switch (L.likelihood) {
      case Likelihood::gaussian:
        for (long i = 0; i < rows; ++i)
          for (long j = 0; j < dout; ++j) {
            T res = y[(r + i) * dout + j] - f[i * dpo + j];
            stat += res * res;
            g[i * dpo + j] = res * inv_var;
          }
        break;
      case Likelihood::bernoulli:
        for (long i = 0; i < rows; ++i) {
          typedef Simd<T, 1> S1;
          typename S1::V fi = {f[i * dpo]};
          T yi = y[r + i];
          // log p = -softplus(-f) if y = 1, -softplus(f) if y = 0; d/df = y - sigmoid(f)
          stat -= S1::softplus(yi > T(0.5) ? -fi : fi)[0];
          g[i * dpo] = yi - S1::sigmoid(fi)[0];
        }
        break;
      case Likelihood::categorical:
        for (long i = 0; i < rows; ++i) {
          typedef Simd<T, 1> S1;
          const T* fi = f + i * dpo;
          T m = fi[0];
          for (long j = 1; j < dout; ++j) m = fi[j] > m ? fi[j] : m;
          T s = 0;
          for (long j = 0; j < dout; ++j) {
            T e = S1::exp(typename S1::V{fi[j] - m})[0];
            g[i * dpo + j] = e;
            s += e;
          }
          const long label = long(y[r + i]);
          stat += fi[label] - m - S1::log(typename S1::V{s})[0];
          const T inv_s = T(1) / s;
          for (long j = 0; j < dout; ++j) g[i * dpo + j] = (j == label ? T(1) : T(0)) - g[i * dpo + j] * inv_s;
        }
        break;
    }
    return stat;
  }
};

// g *= act'(z), with the derivative from the activation value a (tanh, sigmoid, relu) or stored in d.
template <class S>
SYMHMC_INLINE void backprop_derivative(Activation act, typename S::V* g, const typename S::V* a,
                                       const typename S::V* d, long n) {
  typedef typename S::I I;
  switch (act) {
    case Activation::tanh:
      for (long i = 0; i < n; ++i) g[i] *= 1 - a[i] * a[i];
      break;
    case Activation::sigmoid:
      for (long i = 0; i < n; ++i) g[i] *= a[i] * (1 - a[i]);
      break;
    case Activation::relu:
      for (long i = 0; i < n; ++i) g[i] = S::select((I)(a[i] > 0), g[i], S::zero());
      break;
    case Activation::silu:
    case Activation::gelu:
      for (long i = 0; i < n; ++i) g[i] *= d[i];
      break;
    case Activation::identity:
      break;
  }
}

// ---------------------------------------------------------------------------------------------------
// Feature-major products for the lane kernel. A layer's values for one block of data are stored
// [unit][slot] with n slots per unit (a slot is one vector of W lanes). All three products of
// back-propagation have the form
//   out[o * os + j] (+)= sum_c src(o * so + c * sc) * M[c * mc + j * mj]
// where src is a broadcast scalar (weights, rows in lanes) or a vector (weights with positions in lanes,
// or activations), and M and out are vectors. Tiles of kTileRows x kTileVecs accumulators; remainders
// get the widest tile shapes that fit.
template <class T, int W>
struct FGemm {
  typedef Simd<T, W> S;
  typedef typename S::V V;
  enum Init { kZero = 0, kAccumulate = 1, kBias = 2 };
  enum Epilogue { kPlain = 0, kDeriv = 1 };

  struct Args {
    const T* src;  // src(o, c) at src[o * so + c * sc] (scalars) or src[(o * so + c * sc) * W] (vectors)
    long so, sc, n_c;
    const V* M;  // M(c, j) at M[c * mc + j * mj]
    long mc, mj;
    V* out;  // out(o, j) at out[o * os + j]
    long os;
    const T* bias;  // kBias: out(o, .) starts at bias[o] (scalar or vector like src)
    // kDeriv: out *= act'(z) with the activation value a (or the stored derivative d) at out's index,
    // then the row sums of out are added to gb[o] (the bias gradient) when gb is set.
    Activation act;
    const V *a, *d;
    V* gb;
  };

  template <bool VecSrc>
  static SYMHMC_INLINE V src_at(const T* p, long i) {
    if (VecSrc) return S::load(p + i * W);
    return S::set1(p[i]);
  }

  // kDeriv, on a stored tile: out *= act'(z), then the row sums go to the bias gradient. Out of line and
  // over run-time tile sizes (one copy instead of one per tile shape; the tile is still in L1).
  static __attribute__((noinline)) void epilogue_deriv(const Args& g, long o0, long j0, int rb, int jb) {
    for (int r = 0; r < rb; ++r) {
      V* out = g.out + (o0 + r) * g.os + j0;
      const V* a = g.a + (o0 + r) * g.os + j0;
      const V* d = g.d ? g.d + (o0 + r) * g.os + j0 : nullptr;
      backprop_derivative<S>(g.act, out, a, d, jb);
      if (g.gb) {
        V s = out[0];
        for (int j = 1; j < jb; ++j) s += out[j];
        g.gb[o0 + r] += s;
      }
    }
  }

  template <int RB, int JB, bool VecSrc>
  static SYMHMC_INLINE void madd(V (&acc)[RB][JB], const T* sp, long so, const V* mp, long mj) {
    V m[JB];
    for (int j = 0; j < JB; ++j) m[j] = mp[j * mj];
    for (int r = 0; r < RB; ++r) {
      const V s = src_at<VecSrc>(sp, r * so);
      for (int j = 0; j < JB; ++j) acc[r][j] += s * m[j];
    }
  }

  // The initialisation (zero, accumulate, bias) and the epilogue are chosen per tile at run time: one
  // branch per tile, and far fewer instantiations than template parameters would make.
  template <int RB, int JB, bool VecSrc>
  static SYMHMC_INLINE void tile(const Args& g, int init, int epi, long o0, long j0) {
    V acc[RB][JB];
    V* out = g.out;
    const long os = g.os, so = g.so, sc = g.sc, mc = g.mc, mj = g.mj, n_c = g.n_c;
    if (init == kAccumulate) {
      for (int r = 0; r < RB; ++r)
        for (int j = 0; j < JB; ++j) acc[r][j] = out[(o0 + r) * os + j0 + j];
    } else {
      for (int r = 0; r < RB; ++r) {
        const V b = init == kBias ? src_at<VecSrc>(g.bias, o0 + r) : S::zero();
        for (int j = 0; j < JB; ++j) acc[r][j] = b;
      }
    }
    const T* sp = VecSrc ? g.src + o0 * so * W : g.src + o0 * so;
    const V* mp = g.M + j0 * mj;
    const long sstep = VecSrc ? sc * W : sc;
    for (long c = 0; c < n_c; ++c, sp += sstep, mp += mc) madd<RB, JB, VecSrc>(acc, sp, so, mp, mj);
    if (epi == kDeriv && g.act == Activation::tanh) {  // tanh in registers; the others out of line
      const V* a = g.a + o0 * os + j0;
      for (int r = 0; r < RB; ++r)
        for (int j = 0; j < JB; ++j) acc[r][j] *= 1 - a[r * os + j] * a[r * os + j];
      if (g.gb)
        for (int r = 0; r < RB; ++r) {
          V s = acc[r][0];
          for (int j = 1; j < JB; ++j) s += acc[r][j];
          g.gb[o0 + r] += s;
        }
      epi = kPlain;
    }
    for (int r = 0; r < RB; ++r)
      for (int j = 0; j < JB; ++j) out[(o0 + r) * os + j0 + j] = acc[r][j];
    if (epi == kDeriv) epilogue_deriv(g, o0, j0, RB, JB);
  }

  template <int RB, bool VecSrc>
  static SYMHMC_INLINE void strip(const Args& g, int init, int epi, long o0, long n_j) {
    constexpr int TV = kTileVecs;
    long j = 0;
    for (; j + TV <= n_j; j += TV) tile<RB, TV, VecSrc>(g, init, epi, o0, j);
    switch (n_j - j) {
      case 1: tile<RB, 1, VecSrc>(g, init, epi, o0, j); break;
      case 2:
        if constexpr (TV > 2) tile<RB, 2, VecSrc>(g, init, epi, o0, j);
        break;
      case 3:
        if constexpr (TV > 3) tile<RB, 3, VecSrc>(g, init, epi, o0, j);
        break;
      default: break;
    }
  }

  // out(o, j) for o < n_o, j < n_j, in tiles of kTileRows x kTileVecs accumulators.
  template <bool VecSrc>
  static void run(const Args& g, int init, int epi, long n_o, long n_j) {
    constexpr int TR = kTileRows;
    static_assert(kTileVecs <= 4 && TR <= 8, "tile");
    // Full strips of TR rows, except that a thin last strip (8 rows: 6 + 2) is evened out with the
    // others (4 + 4): a thin strip loads nearly as much per multiply-add as it computes.
    const long strips = (n_o + TR - 1) / TR;
    const bool even = n_o > TR && n_o % TR != 0 && n_o % TR < TR / 2;
    long o = 0;
    for (long k = 0; k < strips; ++k) {
      const long left = n_o - o;
      const long h = even ? left / (strips - k) + (left % (strips - k) != 0) : (left < TR ? left : TR);
      switch (h) {
#define SYMHMC_STRIP(k)                                                    \
  case k:                                                                  \
    if constexpr (TR >= k) strip<k, VecSrc>(g, init, epi, o, n_j); \
    break;
        SYMHMC_STRIP(1)
        SYMHMC_STRIP(2)
        SYMHMC_STRIP(3)
        SYMHMC_STRIP(4)
        SYMHMC_STRIP(5)
        SYMHMC_STRIP(6)
        SYMHMC_STRIP(7)
        SYMHMC_STRIP(8)
#undef SYMHMC_STRIP
        default: break;
      }
      o += h;
    }
  }
};

// Activation values only, in place (the lane kernel takes the derivative from the value where it can).
template <class S>
SYMHMC_INLINE void activate_values(Activation act, typename S::V* z, typename S::V* d, long n) {
  typedef typename S::V V;
  constexpr int U = 4;  // independent vectors in flight
  switch (act) {
    case Activation::tanh: {
      long i = 0;
      for (; i + U <= n; i += U) S::template tanh_n<U>(z + i, nullptr);
      for (; i < n; ++i) S::template tanh_n<1>(z + i, nullptr);
      break;
    }
    case Activation::relu:
      for (long i = 0; i < n; ++i) z[i] = S::max(z[i], S::zero());
      break;
    case Activation::sigmoid:
      for (long i = 0; i < n; ++i) z[i] = S::sigmoid(z[i]);
      break;
    case Activation::silu:
    case Activation::gelu:
      activate<S>(act, z, d, n);
      break;
    case Activation::identity:
      break;
    default:
      (void)sizeof(V);
  }
}

// activate_values out of line (the fused kernel's non-tanh instantiations call it).
template <class S>
__attribute__((noinline)) void activate_other(Activation act, typename S::V* z, typename S::V* d, long n) {
  activate_values<S>(act, z, d, n);
}

constexpr long kLaneSlots = 48;  // slots (vectors) per block of the lane kernel

// ---------------------------------------------------------------------------------------------------
// Lane kernel: every scalar of back-propagation becomes a vector of W independent lanes, so nothing is
// padded and nothing is reduced across lanes until the very end. A lane is either
//   * a position (up to W parameter vectors, weights held as vectors; data rows broadcast), or
//   * a data row (one parameter vector, weights broadcast from theta; W rows per slot; gradients are
//     summed over the lanes at the end of the task).
// Activations are stored feature-major ([unit][slot]), so every product is a register-tiled FGemm whose
// source is a weight (scalar or vector) or an activation and whose other operand is a run of slots.
template <class T>
struct LaneKernel {
  static constexpr int W = lanes_for<T>();
  typedef Simd<T, W> S;
  typedef typename S::V V;
  typedef typename S::I I;
  typedef FGemm<T, W> G;

  struct Buffers {
    V *theta, *grad;  // n_weights vectors (theta: positions in lanes only; grad: one copy per pass)
    V *x, *y;         // one block: d_0 x slots inputs, targets (d_L x slots gaussian, else 1 x slots)
    V* valid;         // per slot: all-ones lanes hold a data row
    V *a[kMaxLayers + 1], *d[kMaxLayers + 1];  // activations (a[L]: outputs); stored derivatives
    V *g0, *g1;
    V* w1s;  // fused path, tanh: W_1, b_1 scaled by Simd::kTanhScale
    V* wsc;  // general path, tanh: the hidden layers' weights scaled by Simd::kTanhScale
    std::size_t size;
  };

  static bool stores_derivative(Activation a) { return a == Activation::gelu || a == Activation::silu; }

  static Buffers carve(const MlpLayout& L, T* work) {
    Buffers B;
    Carver<T> c{work};
    auto vecs = [&](std::size_t n) { return reinterpret_cast<V*>(c.take(n * W)); };
    long max_d = 0;
    for (int l = 0; l <= L.n_layers; ++l) max_d = L.sizes[l] > max_d ? L.sizes[l] : max_d;
    const std::size_t R = kLaneSlots;
    B.theta = vecs(std::size_t(L.n_weights));
    // positions in lanes (narrow nets, see plan_split) keep one gradient copy per row residue
    const bool narrow = positions_in_lanes_fit(L.n_weights, W, sizeof(T));
    B.grad = vecs(std::size_t(L.n_weights) * (narrow ? W : 1));
    B.x = vecs(R * L.sizes[0]);
    B.y = vecs(R * L.sizes[L.n_layers]);
    B.valid = vecs(R);
    for (int l = 1; l <= L.n_layers; ++l) {
      B.a[l] = vecs(R * L.sizes[l]);
      B.d[l] = l < L.n_layers && stores_derivative(L.activation) ? vecs(R * L.sizes[l]) : nullptr;
    }
    B.g0 = vecs(R * max_d);
    B.g1 = vecs(R * max_d);
    const bool scaled_tanh = L.activation == Activation::tanh && S::kFastScaledTanh;
    B.w1s = scaled_tanh && fused(L) ? vecs(std::size_t(L.sizes[0] + 1) * L.sizes[1]) : nullptr;
    B.wsc = scaled_tanh && !fused(L) ? vecs(std::size_t(L.n_weights)) : nullptr;
    B.size = c.used;
    return B;
  }
  static std::size_t workspace(const MlpLayout& L) { return carve(L, nullptr).size; }

  // One hidden layer with a narrow input and output: the whole forward and backward pass of a group of
  // slots runs unit by unit in registers (a unit's activations are stored once for the backward pass;
  // the output layer's sums and the gradients of both layers accumulate on the fly).
  // (One output: regression on one target, binary classification. Wider outputs take the general path,
  // which keeps the number of instantiations, and the build time, down.)
  static constexpr long kFusedMaxOut = 1, kFusedMaxIn = 64;
  static bool fused(const MlpLayout& L) {
    return L.n_layers == 2 && L.sizes[2] <= kFusedMaxOut && L.sizes[0] <= kFusedMaxIn;
  }
  struct Fused {
    const MlpLayout* L;
    const Buffers* B;
    long n;                      // slots in this block
    const T *w1, *b1, *w2, *b2;  // weights (ws elements each); w1, b1 scaled when `scaled`
    V inv_var;
    bool grad, scaled;
  };
  template <bool VecW>
  static SYMHMC_INLINE V wt(const T* p, long i) {
    if (VecW) return S::load(p + i * W);
    return S::set1(p[i]);
  }

  // Forward of units [j, j + UJ) for U slots: z = b_1 + x W_1 (UJ x U accumulators: per input, U loads
  // of x and UJ weights, broadcast or loaded, feed UJ * U multiply-adds), a = act(z) stored, f += a W_2.
  template <bool VecW, int U, int UJ, int D, bool Tanh, int DM>
  static SYMHMC_INLINE void fused_forward_units(const Fused& F, const V* x, V* a1, V* d1, long j, V (&f)[DM][U]) {
    const MlpLayout& L = *F.L;
    const long d0 = L.sizes[0], H = L.sizes[1], n = F.n;
    const long Dn = D > 0 ? D : L.sizes[2];
    const Activation act = L.activation;
    V z[UJ][U];
    for (int k = 0; k < UJ; ++k) {
      const V b = wt<VecW>(F.b1, j + k);
      for (int u = 0; u < U; ++u) z[k][u] = b;
    }
    for (long i = 0; i < d0; ++i) {
      V xu[U];
      for (int u = 0; u < U; ++u) xu[u] = x[i * n + u];
      for (int k = 0; k < UJ; ++k) {
        const V w = wt<VecW>(F.w1, i * H + j + k);
        for (int u = 0; u < U; ++u) z[k][u] += w * xu[u];
      }
    }
    constexpr int KB = U >= 4 ? 1 : (4 + U - 1) / U < UJ ? (4 + U - 1) / U : UJ;  // units per batch
    if constexpr (KB == UJ) {  // one batch: straight from the registers
      V* t = &z[0][0];
      if constexpr (Tanh) {
        if (F.scaled)
          S::template tanh_scaled_n<UJ * U>(t);
        else
          S::template tanh_n<UJ * U>(t, nullptr);
      } else {
        for (int k = 0; k < UJ; ++k) activate_other<S>(act, t + k * U, d1 ? d1 + (j + k) * n : nullptr, U);
      }
      for (int k = 0; k < UJ; ++k)
        for (int u = 0; u < U; ++u) a1[(j + k) * n + u] = z[k][u];
      for (int k = 0; k < UJ; ++k)
        for (long o = 0; o < Dn; ++o) {
          const V w = wt<VecW>(F.w2, (j + k) * Dn + o);
          for (int u = 0; u < U; ++u) f[o][u] += z[k][u] * w;
        }
      return;
    }
    for (int k = 0; k < UJ; ++k)
      for (int u = 0; u < U; ++u) a1[(j + k) * n + u] = z[k][u];
    // activation in batches of >= 4 vectors, from memory (keeps the registers for the batch)
    for (int k0 = 0; k0 < UJ; k0 += KB) {
      constexpr int NB = KB * U;
      V t[NB];
      const int kn = k0 + KB <= UJ ? KB : UJ - k0;
      for (int k = 0; k < KB; ++k)
        for (int u = 0; u < U; ++u) t[k * U + u] = k < kn ? a1[(j + k0 + k) * n + u] : S::zero();
      if constexpr (Tanh) {
        if (F.scaled)
          S::template tanh_scaled_n<NB>(t);
        else
          S::template tanh_n<NB>(t, nullptr);
      } else {
        for (int k = 0; k < kn; ++k) activate_other<S>(act, t + k * U, d1 ? d1 + (j + k0 + k) * n : nullptr, U);
      }
      for (int k = 0; k < kn; ++k)
        for (int u = 0; u < U; ++u) a1[(j + k0 + k) * n + u] = t[k * U + u];
      for (int k = 0; k < kn; ++k)
        for (long o = 0; o < Dn; ++o) {
          const V w = wt<VecW>(F.w2, (j + k0 + k) * Dn + o);
          for (int u = 0; u < U; ++u) f[o][u] += t[k * U + u] * w;
        }
    }
  }

  // Backward of units [j, j + UJ) for U slots, given the output gradient g.
  template <bool VecW, int U, int UJ, int D, bool Tanh, int DM>
  static SYMHMC_INLINE void fused_backward_units(const Fused& F, const V* x, const V* a1, const V* d1, long j,
                                                 const V (&g)[DM][U]) {
    const MlpLayout& L = *F.L;
    const Buffers& B = *F.B;
    const long d0 = L.sizes[0], H = L.sizes[1], n = F.n;
    const long Dn = D > 0 ? D : L.sizes[2];
    V* gW1 = B.grad + L.w_offset[0];
    V* gb1 = B.grad + L.b_offset[0];
    V* gW2 = B.grad + L.w_offset[1];
    V gh[UJ][U];
    for (int k = 0; k < UJ; ++k) {
      V t[U];
      for (int u = 0; u < U; ++u) t[u] = a1[(j + k) * n + u];
      for (long o = 0; o < Dn; ++o) {
        const long p = (j + k) * Dn + o;
        V acc = gW2[p];
        for (int u = 0; u < U; ++u) acc += t[u] * g[o][u];
        gW2[p] = acc;
        const V w = wt<VecW>(F.w2, p);
        if (o == 0)
          for (int u = 0; u < U; ++u) gh[k][u] = w * g[0][u];
        else
          for (int u = 0; u < U; ++u) gh[k][u] += w * g[o][u];
      }
      if constexpr (Tanh)
        for (int u = 0; u < U; ++u) gh[k][u] *= 1 - t[u] * t[u];
      else
        backprop_derivative<S>(L.activation, gh[k], t, d1 ? d1 + (j + k) * n : nullptr, U);
      V s = gb1[j + k];
      for (int u = 0; u < U; ++u) s += gh[k][u];
      gb1[j + k] = s;
    }
    for (long i = 0; i < d0; ++i) {
      V xu[U];
      for (int u = 0; u < U; ++u) xu[u] = x[i * n + u];
      for (int k = 0; k < UJ; ++k) {
        V acc = gW1[i * H + j + k];
        for (int u = 0; u < U; ++u) acc += xu[u] * gh[k][u];
        gW1[i * H + j + k] = acc;
      }
    }
  }

  // step(Tile<n>(), j) over the units [0, H) in tiles of UJ, then one tile of the 1..3 left (UJ <= 4).
  template <int N>
  struct Tile {
    static constexpr int units = N;
  };
  template <int UJ, class Step>
  static SYMHMC_INLINE void for_unit_tiles(long H, Step&& step) {
    long j = 0;
    for (; j + UJ <= H; j += UJ) step(Tile<UJ>(), j);
    switch (H - j) {
      case 1: step(Tile<1>(), j); break;
      case 2:
        if constexpr (UJ > 2) step(Tile<2>(), j);
        break;
      case 3:
        if constexpr (UJ > 3) step(Tile<3>(), j);
        break;
      default: break;
    }
  }

  // U slots; units in tiles of UJ (4 for wide inputs: fewer loads per multiply-add; few inputs: 4 / U).
  template <bool VecW, int U, int D, bool WideIn, bool Tanh>  // D: output width (only 1 is instantiated)
  static SYMHMC_INLINE V fused_group(const Fused& F, long v0) {
    const MlpLayout& L = *F.L;
    const Buffers& B = *F.B;
    const long H = L.sizes[1], n = F.n;
    const long Dn = D > 0 ? D : L.sizes[2];
    constexpr int DM = D > 0 ? D : int(kFusedMaxOut);
    constexpr int UJ = WideIn ? kFusedWideUnits : (4 + U - 1) / U;  // units per tile
    V f[DM][U], g[DM][U];
    for (long o = 0; o < Dn; ++o) {
      const V b = wt<VecW>(F.b2, o);
      for (int u = 0; u < U; ++u) f[o][u] = b;
    }
    V* a1 = B.a[1] + v0;
    V* d1 = B.d[1] ? B.d[1] + v0 : nullptr;
    const V* x = B.x + v0;
    for_unit_tiles<UJ>(H, [&](auto tile, long j) {
      fused_forward_units<VecW, U, decltype(tile)::units, D, Tanh>(F, x, a1, d1, j, f);
    });
    const V stat = loss(L, U, &f[0][0], U, B.y + v0, n, B.valid + v0, F.inv_var, &g[0][0], U);
    if (!F.grad) return stat;
    V* gb2 = B.grad + L.b_offset[1];
    for (long o = 0; o < Dn; ++o) {
      V s = gb2[o];
      for (int u = 0; u < U; ++u) s += g[o][u];
      gb2[o] = s;
    }
    for_unit_tiles<UJ>(H, [&](auto tile, long j) {
      fused_backward_units<VecW, U, decltype(tile)::units, D, Tanh>(F, x, a1, d1, j, g);
    });
    return stat;
  }

  template <bool VecW, int D, bool WideIn, bool Tanh>
  static V fused_block(const Fused& F) {
    V stat = S::zero();
    long v = 0;
    for (; v + kFusedSlots <= F.n; v += kFusedSlots) stat += fused_group<VecW, kFusedSlots, D, WideIn, Tanh>(F, v);
    for (; v < F.n; ++v) stat += fused_group<VecW, 1, D, false, Tanh>(F, v);
    return stat;
  }
  template <bool VecW, bool Tanh>
  static V fused_block_act(const Fused& F) {
    const bool wide = F.L->sizes[0] > 2;
    return wide ? fused_block<VecW, 1, true, Tanh>(F) : fused_block<VecW, 1, false, Tanh>(F);
  }
  template <bool VecW>
  static V fused_block_any(const Fused& F) {  // tanh inlined; the other activations out of line
    return F.L->activation == Activation::tanh ? fused_block_act<VecW, true>(F) : fused_block_act<VecW, false>(F);
  }

  // Loads slots [s0, s0 + n) of the task feature-major. Rows in lanes: slot s holds rows r0 + s W + lane.
  // Positions in lanes (pass `res`): slot s holds row r0 + res + s W in every lane, so that each position
  // meets its rows in the same slots, blocks and order as with rows in lanes. Lanes or slots past the end
  // hold zeros and are marked invalid.
  static void load_block(const LikelihoodTask<T>& t, const Buffers& B, long s0, long n, long res) {
    const MlpLayout& L = *t.layout;
    const long d0 = L.sizes[0], dout = L.sizes[L.n_layers], r0 = long(t.r0), r1 = long(t.r1);
    const long ny = L.likelihood == Likelihood::gaussian ? dout : 1;
    if (!t.rows_in_lanes) {
      for (long v = 0; v < n; ++v) {
        const long row = r0 + res + (s0 + v) * W;
        const bool in = row < r1;
        for (long i = 0; i < d0; ++i) B.x[i * n + v] = S::set1(in ? t.X[row * d0 + i] : T(0));
        for (long o = 0; o < ny; ++o) B.y[o * n + v] = S::set1(in ? t.y[row * ny + o] : T(0));
        B.valid[v] = in ? S::from_bits(I{} - 1) : S::zero();
      }
      return;
    }
    T* x = reinterpret_cast<T*>(B.x);
    T* y = reinterpret_cast<T*>(B.y);
    for (long v = 0; v < n; ++v) {
      const long row = r0 + (s0 + v) * W;
      const long full = r1 - row < W ? (r1 - row > 0 ? r1 - row : 0) : W;  // lanes with a row
      const T* Xr = t.X + row * d0;
      const T* yr = t.y + row * ny;
      for (long i = 0; i < d0; ++i) {
        T* xi = x + (i * n + v) * W;
        for (long k = 0; k < full; ++k) xi[k] = Xr[k * d0 + i];
        for (long k = full; k < W; ++k) xi[k] = T(0);
      }
      for (long o = 0; o < ny; ++o) {
        T* yo = y + (o * n + v) * W;
        for (long k = 0; k < full; ++k) yo[k] = yr[k * ny + o];
        for (long k = full; k < W; ++k) yo[k] = T(0);
      }
      V valid = S::zero();
      for (long k = 0; k < full; ++k) valid[k] = S::from_bits(I{} - 1)[0];
      B.valid[v] = valid;
    }
  }

  // Every position gets bitwise the same result whether it is evaluated alone (rows in lanes) or in a
  // group (positions in lanes), whatever K and its index in the batch: with positions in lanes the rows
  // are taken residue by residue (pass k: rows r0 + k + s W), each pass accumulating into its own
  // gradient copy, and the passes are combined in the order sum_lanes combines the lanes. (Replica
  // exchange and resumed runs re-evaluate a state at another index or in another batch.)
  static void run(const LikelihoodTask<T>& t) {
    const MlpLayout& L = *t.layout;
    Buffers B = carve(L, t.work);
    const long np = long(t.n_pos), nw = long(L.n_weights);
    const bool vec = !t.rows_in_lanes;  // weights held as vectors (positions in lanes)
    const T* wsrc;                      // weights: scalars (rows in lanes) or vectors, indexed by parameter
    if (vec) {
      for (long p = 0; p < nw; ++p)
        for (long k = 0; k < W; ++k) B.theta[p][k] = t.theta[(k < np ? k : 0) * long(t.theta_stride) + p];
      wsrc = reinterpret_cast<const T*>(B.theta);
    } else {
      wsrc = t.theta;
    }
    V inv_var = S::set1(1);
    if (t.inv_var)
      for (long k = 0; k < W; ++k) inv_var[k] = t.inv_var[vec && k < np ? k : 0];
    // Blocks of equal size (up to kLaneSlots slots, whole tiles of 4): a short last block would make the
    // gradient tiles load and store their accumulators for a few multiply-adds.
    const long total_slots = (long(t.r1 - t.r0) + W - 1) / W;
    const long n_blocks = (total_slots + kLaneSlots - 1) / kLaneSlots;
    long slots = (total_slots + n_blocks - 1) / n_blocks;
    slots = (slots + 3) / 4 * 4 < kLaneSlots ? (slots + 3) / 4 * 4 : kLaneSlots;
    const long passes = vec ? W : 1;
    V* const grad0 = B.grad;
    V stat[W];
    const Prepared P = prepare(t, B, wsrc, vec, inv_var);
    for (long k = 0; k < passes; ++k) {
      B.grad = grad0 + k * nw;
      stat[k] = S::zero();
      for (long s0 = 0; s0 < total_slots; s0 += slots) {
        const long n = total_slots - s0 < slots ? total_slots - s0 : slots;
        load_block(t, B, s0, n, k);
        stat[k] += process_block(t, B, P, n, s0 == 0);
      }
    }
    B.grad = grad0;
    finish(t, B, stat);
  }

  // Per-task setup shared by the passes: weight pointers and the scaled copies for tanh.
  struct Prepared {
    const T* wsrc;  // weights (scalars or vectors)
    const T* wfwd;  // forward weights of hidden layers (scaled for tanh)
    long ws;        // elements per weight
    bool vec, scaled;
    V inv_var;
    Fused F;
  };
  static Prepared prepare(const LikelihoodTask<T>& t, const Buffers& B, const T* wsrc, bool vec, V inv_var) {
    const MlpLayout& L = *t.layout;
    const int nl = L.n_layers;
    Prepared P{};
    P.wsrc = P.wfwd = wsrc;
    P.ws = vec ? W : 1;
    P.vec = vec;
    P.inv_var = inv_var;
    const long ws = P.ws;
    if (fused(L)) {
      Fused& F = P.F;
      F.L = &L;
      F.B = &B;
      F.w1 = wsrc + L.w_offset[0] * ws;
      F.b1 = wsrc + L.b_offset[0] * ws;
      F.w2 = wsrc + L.w_offset[1] * ws;
      F.b2 = wsrc + L.b_offset[1] * ws;
      F.inv_var = inv_var;
      F.grad = t.grad != nullptr;
      F.scaled = L.activation == Activation::tanh && S::kFastScaledTanh;
      if (F.scaled) {  // W_1 and b_1 are contiguous in theta
        const long n1 = (L.sizes[0] + 1) * long(L.sizes[1]);
        T* w1s = reinterpret_cast<T*>(B.w1s);
        for (long p = 0; p < n1 * ws; ++p) w1s[p] = F.w1[p] * S::kTanhScale;
        F.w1 = w1s;
        F.b1 = w1s + L.sizes[0] * long(L.sizes[1]) * ws;
      }
      P.scaled = F.scaled;
      return P;
    }
    // tanh: hidden layers read weights scaled by kTanhScale, so that the activation needs no multiply
    P.scaled = L.activation == Activation::tanh && S::kFastScaledTanh && B.wsc && nl >= 2;
    if (P.scaled) {
      T* w = reinterpret_cast<T*>(B.wsc);
      for (long p = 0; p < L.b_offset[nl - 2] + L.sizes[nl - 1]; ++p)
        for (long k = 0; k < ws; ++k) w[p * ws + k] = wsrc[p * ws + k] * S::kTanhScale;
      P.wfwd = w;
    }
    return P;
  }

  // One block of n slots (already loaded): forward, loss, backward; gradients accumulate in B.grad
  // (`first`: the first block of a pass, which starts them). Returns the per-lane statistic.
  static V process_block(const LikelihoodTask<T>& t, const Buffers& B, const Prepared& P, long n, bool first) {
    const MlpLayout& L = *t.layout;
    const int nl = L.n_layers;
    const long nw = long(L.n_weights);
    if (fused(L)) {
      Fused F = P.F;
      F.B = &B;
      F.n = n;
      if (first && F.grad)
        for (long p = 0; p < nw; ++p) B.grad[p] = S::zero();
      return P.vec ? fused_block_any<true>(F) : fused_block_any<false>(F);
    }
    typedef typename G::Args Args;
    const bool vec = P.vec, scaled = P.scaled;
    const T *wsrc = P.wsrc, *wfwd = P.wfwd;
    const long ws = P.ws;
    if (first && t.grad)  // hidden biases accumulate in the back-propagation epilogue
      for (int l = 1; l < nl; ++l)
        for (long j = 0; j < L.sizes[l]; ++j) B.grad[L.b_offset[l - 1] + j] = S::zero();
    V stat = S::zero();
    {
      // forward: a_l[unit][slot] = act(sum_i W_l[i][unit] a_{l-1}[i][slot] + b_l[unit])
      for (int l = 1; l <= nl; ++l) {
        const long din = L.sizes[l - 1], dl = L.sizes[l];
        const bool hidden = l < nl;
        const T* wl = (hidden ? wfwd : wsrc);
        Args g{};
        g.src = wl + L.w_offset[l - 1] * ws;
        g.so = 1;
        g.sc = dl;
        g.n_c = din;
        g.M = l == 1 ? B.x : B.a[l - 1];
        g.mc = n;
        g.mj = 1;
        g.out = B.a[l];
        g.os = n;
        g.bias = wl + L.b_offset[l - 1] * ws;
        if (hidden && scaled) {  // a separate pass: in a tile epilogue it stalls the multiply-adds
          if (vec)
            G::template run<true>(g, G::kBias, G::kPlain, dl, n);
          else
            G::template run<false>(g, G::kBias, G::kPlain, dl, n);
          V* z = B.a[l];
          long i = 0;
          for (; i + 4 <= dl * n; i += 4) S::template tanh_scaled_n<4>(z + i);
          for (; i < dl * n; ++i) S::template tanh_scaled_n<1>(z + i);
        } else {
          if (vec)
            G::template run<true>(g, G::kBias, G::kPlain, dl, n);
          else
            G::template run<false>(g, G::kBias, G::kPlain, dl, n);
          if (hidden) activate_values<S>(L.activation, B.a[l], B.d[l], dl * n);
        }
      }
      V* g = B.g0;
      stat += loss(L, n, B.a[nl], n, B.y, n, B.valid, P.inv_var, g, n);
      if (!t.grad) return stat;
      {  // output bias
        V* gb = B.grad + L.b_offset[nl - 1];
        for (long j = 0; j < L.sizes[nl]; ++j) {
          V s0 = first ? S::zero() : gb[j], s1 = S::zero();
          const V* gj = g + j * n;
          long v = 0;
          for (; v + 2 <= n; v += 2) s0 += gj[v], s1 += gj[v + 1];
          if (v < n) s0 += gj[v];
          gb[j] = s0 + s1;
        }
      }
      for (int l = nl; l >= 1; --l) {
        const long din = L.sizes[l - 1], dl = L.sizes[l];
        const V* h = l == 1 ? B.x : B.a[l - 1];
        // weight gradient: gW[i][j] (+)= sum_slots h[i][slot] g[j][slot], lanes summed at the end
        Args gw{};
        gw.src = reinterpret_cast<const T*>(h);
        gw.so = n;
        gw.sc = 1;
        gw.n_c = n;
        gw.M = g;
        gw.mc = 1;
        gw.mj = n;
        gw.out = B.grad + L.w_offset[l - 1];
        gw.os = dl;
        if (first)
          G::template run<true>(gw, G::kZero, G::kPlain, din, dl);
        else
          G::template run<true>(gw, G::kAccumulate, G::kPlain, din, dl);
        if (l == 1) break;
        // back-propagate: g_prev[i][slot] = (sum_j W_l[i][j] g[j][slot]) * act'(z_{l-1}[i][slot]);
        // the epilogue also adds the slot sums of g_prev to the bias gradient of layer l - 1
        V* g_prev = g == B.g0 ? B.g1 : B.g0;
        Args bp{};
        bp.src = wsrc + L.w_offset[l - 1] * ws;
        bp.so = dl;
        bp.sc = 1;
        bp.n_c = dl;
        bp.M = g;
        bp.mc = n;
        bp.mj = 1;
        bp.out = g_prev;
        bp.os = n;
        bp.act = L.activation;
        bp.a = B.a[l - 1];
        bp.d = B.d[l - 1];
        bp.gb = B.grad + L.b_offset[l - 2];
        if (vec)
          G::template run<true>(bp, G::kZero, G::kDeriv, din, n);
        else
          G::template run<false>(bp, G::kZero, G::kDeriv, din, n);
        g = g_prev;
      }
    }
    return stat;
  }

  // Per-position statistic and gradient out of the lanes (rows in lanes) or out of the W passes
  // (positions in lanes), both summed in the order of Simd::sum_lanes.
  static void finish(const LikelihoodTask<T>& t, const Buffers& B, const V* stat) {
    const long np = long(t.n_pos), nw = long(t.layout->n_weights);
    if (t.rows_in_lanes) {
      S::sum_lanes(stat, 1, t.stat);
      if (t.grad) S::sum_lanes(B.grad, nw, t.grad);
      return;
    }
    V parts[W];
    const V total = S::combine_lanes(stat);
    for (long k = 0; k < np; ++k) t.stat[k] = total[k];
    if (!t.grad) return;
    for (long p = 0; p < nw; ++p) {
      for (int k = 0; k < W; ++k) parts[k] = B.grad[k * nw + p];
      const V g = S::combine_lanes(parts);
      for (long k = 0; k < np; ++k) t.grad[k * long(t.grad_stride) + p] = g[k];
    }
  }

  // Loss of `count` slots with outputs f[o * sf + v] and targets y[o * sy + v]; writes d loglik / d f into
  // g[o * sg + v] (zero on empty lanes) and returns the per-lane statistic.
  static SYMHMC_INLINE V loss(const MlpLayout& L, long count, const V* f, long sf, const V* y, long sy,
                              const V* valid, V inv_var, V* g, long sg) {
    const long dout = L.sizes[L.n_layers];
    V stat = S::zero();
    for (long v = 0; v < count; ++v) {
      const I ok = S::bits(valid[v]);
      V ll = S::zero();
      switch (L.likelihood) {
        case Likelihood::gaussian:
          for (long o = 0; o < dout; ++o) {
            V res = y[o * sy + v] - f[o * sf + v];
            ll += res * res;
            g[o * sg + v] = res * inv_var;
          }
          break;
        case Likelihood::bernoulli: {
          // log p = -softplus(-f) if y = 1, -softplus(f) if y = 0; d/df = y - sigmoid(f)
          const V yi = y[v], fi = f[v];
          const I one = (I)(yi > T(0.5));
          ll = -S::softplus(S::select(one, -fi, fi));
          g[v] = yi - S::sigmoid(fi);
          break;
        }
        case Likelihood::categorical: {
          V m = f[v];
          for (long o = 1; o < dout; ++o) m = S::max(m, f[o * sf + v]);
          V s = S::zero(), fy = S::zero();
          const V yi = y[v];
          for (long o = 0; o < dout; ++o) {
            const V e = S::exp(f[o * sf + v] - m);
            g[o * sg + v] = e;
            s += e;
            fy = S::select((I)(yi == T(o)), f[o * sf + v], fy);
          }
          ll = fy - m - S::log(s);
          const V inv_s = 1 / s;
          for (long o = 0; o < dout; ++o)
            g[o * sg + v] = S::select((I)(yi == T(o)), S::set1(1), S::zero()) - g[o * sg + v] * inv_s;
          break;
        }
      }
      stat += S::select(ok, ll, S::zero());
      for (long o = 0; o < dout; ++o) g[o * sg + v] = S::select(ok, g[o * sg + v], S::zero());
    }
    return stat;
  }
};

template <class T>
const KernelSet<T>& make_set() {
  if constexpr (lanes_for<T>() == 1) {  // one lane: plan_split never picks the lane kernel; not compiled
    static const KernelSet<T> set = {1, &SingleKernel<T>::workspace, &SingleKernel<T>::run,
                                     &SingleKernel<T>::workspace, &SingleKernel<T>::run};
    return set;
  } else {
    static const KernelSet<T> set = {lanes_for<T>(), &SingleKernel<T>::workspace, &SingleKernel<T>::run,
                                     &LaneKernel<T>::workspace, &LaneKernel<T>::run};
    return set;
  }
}

const KernelSet<double>& kernel_set_f64() { return make_set<double>(); }
const KernelSet<float>& kernel_set_f32() { return make_set<float>(); }

}  // namespace SYMHMC_KERNEL_NS
}  // namespace kernels
}  // namespace symhmc
