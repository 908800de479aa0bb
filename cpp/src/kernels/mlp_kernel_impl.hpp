// The MLP log-likelihood kernels. This file is compiled once per instruction set (mlp_<isa>.cpp
// defines SYMHMC_KERNEL_NS); everything lives in that namespace.
//
// Both kernels are built from one register-tiled product (`Gemm`):
//   out[o][j] (+)= sum_c src(o, c) * M(c, j)
// where every M(c, j) and out[o][j] is a SIMD vector and src(o, c) is either a broadcast scalar or a
// vector. With that one tile the three products of back-propagation (forward H W, backward G W^T,
// weight gradient H^T G) are all written without transposing activations.
//
// * single: one parameter vector; lanes run over the units of a layer (units padded to a multiple of
//   the lane count). Used for wide layers and for K = 1.
// * lane: every scalar of the maths becomes a vector of W lanes, each lane a parameter vector or a
//   data row, so nothing is padded and nothing is reduced across lanes. Used for narrow nets.
#include <cstdint>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kernels/kernels.hpp"

namespace symhmc {
namespace kernels {
namespace SYMHMC_KERNEL_NS {

#include "kernels/simd_math.hpp"

#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
constexpr int kTileRows = 6, kTileVecs = 4;  // 24 accumulators of 32 registers
#elif defined(__AVX2__)
constexpr int kVectorBytes = 32;
constexpr int kTileRows = 4, kTileVecs = 3;  // 12 accumulators of 16 registers
#else
constexpr int kVectorBytes = 0;  // scalar: one lane
constexpr int kTileRows = 2, kTileVecs = 2;
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

  // Scalar source (broadcast) or vector source, addressed in elements (scalar) or vectors.
  struct Source {
    const T* p;
    long so, sc;
    bool vector;
    SYMHMC_INLINE V at(long o, long c) const {
      return vector ? S::load(p + (o * so + c * sc) * W) : S::set1(p[o * so + c * sc]);
    }
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
    if (src.vector) {
      for (long c = 0; c < n_c; ++c) {
        V m[JB];
        for (int j = 0; j < JB; ++j) m[j] = S::load(M + (c * mc + (j0 + j) * mj) * W);
        for (int r = 0; r < RB; ++r) {
          V s = S::load(src.p + ((o0 + r) * src.so + c * src.sc) * W);
          for (int j = 0; j < JB; ++j) acc[r][j] += s * m[j];
        }
      }
    } else {
      for (long c = 0; c < n_c; ++c) {
        V m[JB];
        for (int j = 0; j < JB; ++j) m[j] = S::load(M + (c * mc + (j0 + j) * mj) * W);
        for (int r = 0; r < RB; ++r) {
          V s = S::set1(src.p[(o0 + r) * src.so + c * src.sc]);
          for (int j = 0; j < JB; ++j) acc[r][j] += s * m[j];
        }
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
    case Activation::tanh:
      for (long i = 0; i < n; ++i) {
        V t = S::tanh(z[i]);
        z[i] = t;
        d[i] = 1 - t * t;
      }
      break;
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
constexpr long kLaneRows = kTileRows;  // row vectors per sub-block of the lane kernel

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
      Source src = l == 1 ? Source{X + r * d0, d0, 1, false} : Source{B.a[l - 1], B.dp[l - 1], 1, false};
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
        Source h = l == 1 ? Source{t.X + r * d0, 1, d0, false} : Source{B.a[l - 1], 1, B.dp[l - 1], false};
        Gemm<T, W>::template run<true>(h, din, rows, g, dp / W, 1, dp / W, B.gw[l], dp / W, nullptr);
        V* gb = reinterpret_cast<V*>(B.gb[l]);
        const V* gv = reinterpret_cast<const V*>(g);
        for (long i = 0; i < rows; ++i)
          for (long j = 0; j < dp / W; ++j) gb[j] += gv[i * (dp / W) + j];
        if (l == 1) break;
        // back-propagate: g_prev[row][i] = (sum_j g[row][j] W[i][j]) * act'(z[row][i])
        const long dpi = B.dp[l - 1];
        T* g_prev = g == B.g0 ? B.g1 : B.g0;
        Gemm<T, W>::template run<false>(Source{g, dp, 1, false}, rows, L.sizes[l], B.wt[l], dpi / W, 1,
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

// ---------------------------------------------------------------------------------------------------
// Lane kernel: every scalar of back-propagation becomes a vector of W independent lanes, so nothing is
// padded and nothing is reduced across lanes until the very end. A lane is either
//   * a position (up to W parameter vectors; data rows broadcast), or
//   * a data row (one parameter vector broadcast; W rows at a time, gradients summed over lanes last).
// Parameters and gradients are held as P vectors, so this is for narrow nets whose P*W fits in cache.
template <class T>
struct LaneKernel {
  static constexpr int W = lanes_for<T>();
  typedef Simd<T, W> S;
  typedef typename S::V V;
  typedef typename S::I I;
  typedef typename Gemm<T, W>::Source Source;

  struct Buffers {
    V *theta, *grad;  // n_weights vectors each
    V *x, *y;         // one block of inputs (rows x d_0) and targets (rows x d_L or rows labels)
    V* valid;         // rows: all-ones where the lane holds a data row
    V *a[kMaxLayers + 1], *d[kMaxLayers + 1];
    V *g0, *g1;
    std::size_t size;
  };

  static Buffers carve(const MlpLayout& L, T* work) {
    Buffers B;
    Carver<T> c{work};
    auto vecs = [&](std::size_t n) { return reinterpret_cast<V*>(c.take(n * W)); };
    long max_d = 0;
    for (int l = 0; l <= L.n_layers; ++l) max_d = L.sizes[l] > max_d ? L.sizes[l] : max_d;
    B.theta = vecs(std::size_t(L.n_weights));
    B.grad = vecs(std::size_t(L.n_weights));
    B.x = vecs(std::size_t(kLaneRows) * L.sizes[0]);
    B.y = vecs(std::size_t(kLaneRows) * L.sizes[L.n_layers]);
    B.valid = vecs(kLaneRows);
    for (int l = 1; l <= L.n_layers; ++l) {
      B.a[l] = vecs(std::size_t(kLaneRows) * L.sizes[l]);
      B.d[l] = vecs(std::size_t(kLaneRows) * L.sizes[l]);
    }
    B.g0 = vecs(std::size_t(kLaneRows) * max_d);
    B.g1 = vecs(std::size_t(kLaneRows) * max_d);
    B.size = c.used;
    return B;
  }
  static std::size_t workspace(const MlpLayout& L) { return carve(L, nullptr).size; }

  // Loads the next block of data into lane vectors; returns the number of row vectors filled.
  static long load_block(const LikelihoodTask<T>& t, const Buffers& B, long r) {
    const MlpLayout& L = *t.layout;
    const long d0 = L.sizes[0], dout = L.sizes[L.n_layers], r1 = long(t.r1);
    const long ny = L.likelihood == Likelihood::gaussian ? dout : 1;
    if (!t.rows_in_lanes) {  // every lane sees the same row
      const long rows = (r1 - r) < kLaneRows ? (r1 - r) : kLaneRows;
      for (long i = 0; i < rows; ++i) {
        for (long j = 0; j < d0; ++j) B.x[i * d0 + j] = S::set1(t.X[(r + i) * d0 + j]);
        for (long j = 0; j < ny; ++j) B.y[i * ny + j] = S::set1(t.y[(r + i) * ny + j]);
        B.valid[i] = S::from_bits(I{} - 1);
      }
      return rows;
    }
    const long per_block = kLaneRows * W;
    const long rows = (r1 - r) < per_block ? (r1 - r) : per_block;
    const long groups = (rows + W - 1) / W;
    for (long g = 0; g < groups; ++g)
      for (int lane = 0; lane < W; ++lane) {
        const long row = r + g * W + lane;
        const bool in = row < r + rows;
        for (long j = 0; j < d0; ++j) B.x[g * d0 + j][lane] = in ? t.X[row * d0 + j] : T(0);
        for (long j = 0; j < ny; ++j) B.y[g * ny + j][lane] = in ? t.y[row * ny + j] : T(0);
        B.valid[g][lane] = in ? S::from_bits(I{} - 1)[0] : T(0);
      }
    return groups;
  }

  static void run(const LikelihoodTask<T>& t) {
    const MlpLayout& L = *t.layout;
    const Buffers B = carve(L, t.work);
    const long np = long(t.n_pos), nw = long(L.n_weights), nl = L.n_layers;
    const long d0 = L.sizes[0];
    // Positions: lane k of vector p is theta[k][p] (empty lanes repeat position 0: finite values).
    // Rows: every lane holds the single position.
    for (long p = 0; p < nw; ++p)
      for (long k = 0; k < W; ++k) B.theta[p][k] = t.theta[(k < np ? k : 0) * long(t.theta_stride) + p];
    if (t.grad)
      for (long p = 0; p < nw; ++p) B.grad[p] = S::zero();
    V inv_var = S::set1(1);
    if (t.inv_var)
      for (long k = 0; k < W; ++k) inv_var[k] = t.inv_var[k < np ? k : 0];
    V stat = S::zero();
    T* theta = reinterpret_cast<T*>(B.theta);
    T* grad = reinterpret_cast<T*>(B.grad);
    const long step = t.rows_in_lanes ? kLaneRows * W : kLaneRows;

    for (long r = long(t.r0); r < long(t.r1); r += step) {
      const long rows = load_block(t, B, r);
      for (int l = 1; l <= nl; ++l) {
        const long din = L.sizes[l - 1], dl = L.sizes[l];
        const T* h = l == 1 ? reinterpret_cast<T*>(B.x) : reinterpret_cast<T*>(B.a[l - 1]);
        Gemm<T, W>::template run<false>(Source{h, din, 1, true}, rows, din, theta + L.w_offset[l - 1] * W, dl,
                                        1, dl, reinterpret_cast<T*>(B.a[l]), dl,
                                        theta + L.b_offset[l - 1] * W);
        if (l < nl) activate<S>(L.activation, B.a[l], B.d[l], rows * dl);
      }
      V* g = B.g0;
      stat += loss(L, rows, B.a[nl], B.y, B.valid, inv_var, g);
      if (!t.grad) continue;
      for (long l = nl; l >= 1; --l) {
        const long din = L.sizes[l - 1], dl = L.sizes[l];
        const T* h = l == 1 ? reinterpret_cast<T*>(B.x) : reinterpret_cast<T*>(B.a[l - 1]);
        Gemm<T, W>::template run<true>(Source{h, 1, din, true}, din, rows, reinterpret_cast<T*>(g), dl, 1, dl,
                                       grad + L.w_offset[l - 1] * W, dl, nullptr);
        V* gb = B.grad + L.b_offset[l - 1];
        for (long i = 0; i < rows; ++i)
          for (long j = 0; j < dl; ++j) gb[j] += g[i * dl + j];
        if (l == 1) break;
        V* g_prev = g == B.g0 ? B.g1 : B.g0;
        // g_prev[row][i] = sum_j g[row][j] * W[i][j]: M(c = j, i) at (i * dl + j) -> mc = 1, mj = dl
        Gemm<T, W>::template run<false>(Source{reinterpret_cast<T*>(g), dl, 1, true}, rows, dl,
                                        theta + L.w_offset[l - 1] * W, 1, dl, din,
                                        reinterpret_cast<T*>(g_prev), din, nullptr);
        const V* dv = B.d[l - 1];
        for (long i = 0; i < rows * din; ++i) g_prev[i] *= dv[i];
        g = g_prev;
      }
    }
    (void)d0;
    if (t.rows_in_lanes) {
      t.stat[0] = S::sum(stat);
      if (t.grad)
        for (long p = 0; p < nw; ++p) t.grad[p] = S::sum(B.grad[p]);
      return;
    }
    for (long k = 0; k < np; ++k) t.stat[k] = stat[k];
    if (!t.grad) return;
    for (long k = 0; k < np; ++k) {
      T* gk = t.grad + k * long(t.grad_stride);
      for (long p = 0; p < nw; ++p) gk[p] = B.grad[p][k];
    }
  }

  // Loss of `rows` row vectors with outputs f; writes d loglik / d f into g (zero on invalid lanes).
  static V loss(const MlpLayout& L, long rows, const V* f, const V* y, const V* valid, V inv_var, V* g) {
    const long dout = L.sizes[L.n_layers];
    V stat = S::zero();
    for (long i = 0; i < rows; ++i) {
      const I ok = S::bits(valid[i]);
      const V* fi = f + i * dout;
      V* gi = g + i * dout;
      V ll = S::zero();
      switch (L.likelihood) {
        case Likelihood::gaussian:
          for (long j = 0; j < dout; ++j) {
            V res = y[i * dout + j] - fi[j];
            ll += res * res;
            gi[j] = res * inv_var;
          }
          break;
        case Likelihood::bernoulli: {
          // log p = -softplus(-f) if y = 1, -softplus(f) if y = 0; d/df = y - sigmoid(f)
          const V yi = y[i];
          const I one = (I)(yi > T(0.5));
          ll = -S::softplus(S::select(one, -fi[0], fi[0]));
          gi[0] = yi - S::sigmoid(fi[0]);
          break;
        }
        case Likelihood::categorical: {
          V m = fi[0];
          for (long j = 1; j < dout; ++j) m = S::max(m, fi[j]);
          V s = S::zero(), fy = S::zero();
          const V yi = y[i];
          for (long j = 0; j < dout; ++j) {
            gi[j] = S::exp(fi[j] - m);
            s += gi[j];
            fy = S::select((I)(yi == T(j)), fi[j], fy);
          }
          ll = fy - m - S::log(s);
          const V inv_s = 1 / s;
          for (long j = 0; j < dout; ++j)
            gi[j] = S::select((I)(yi == T(j)), S::set1(1), S::zero()) - gi[j] * inv_s;
          break;
        }
      }
      stat += S::select(ok, ll, S::zero());
      for (long j = 0; j < dout; ++j) gi[j] = S::select(ok, gi[j], S::zero());
    }
    return stat;
  }
};

template <class T>
const KernelSet<T>& make_set() {
  static const KernelSet<T> set = {lanes_for<T>(), &SingleKernel<T>::workspace, &SingleKernel<T>::run,
                                   &LaneKernel<T>::workspace, &LaneKernel<T>::run};
  return set;
}

const KernelSet<double>& kernel_set_f64() { return make_set<double>(); }
const KernelSet<float>& kernel_set_f32() { return make_set<float>(); }

}  // namespace SYMHMC_KERNEL_NS
}  // namespace kernels
}  // namespace symhmc
