#include "symhmc/mlp.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include "kernels/kernels.hpp"
#include "symhmc/simd.hpp"
#include "symhmc/thread_pool.hpp"

namespace symhmc {
namespace {

constexpr double kHalfLog2Pi = 0.91893853320467274178;

template <class T>
const kernels::KernelSet<T>& kernel_set(Isa isa);

template <>
const kernels::KernelSet<double>& kernel_set<double>(Isa isa) {
  switch (isa) {
#if defined(SYMHMC_HAVE_X86_KERNELS)
    case Isa::avx512: return kernels::avx512::kernel_set_f64();
    case Isa::avx2: return kernels::avx2::kernel_set_f64();
#endif
#if defined(SYMHMC_HAVE_NEON_KERNELS)
    case Isa::neon: return kernels::neon::kernel_set_f64();
#endif
    default: return kernels::scalar::kernel_set_f64();
  }
}
template <>
const kernels::KernelSet<float>& kernel_set<float>(Isa isa) {
  switch (isa) {
#if defined(SYMHMC_HAVE_X86_KERNELS)
    case Isa::avx512: return kernels::avx512::kernel_set_f32();
    case Isa::avx2: return kernels::avx2::kernel_set_f32();
#endif
#if defined(SYMHMC_HAVE_NEON_KERNELS)
    case Isa::neon: return kernels::neon::kernel_set_f32();
#endif
    default: return kernels::scalar::kernel_set_f32();
  }
}

// Per-thread buffers, 64-byte aligned, grown on demand and kept (contents and all) for the next call:
// a narrow net's gradient takes a few microseconds, and fresh allocations cost ~10% of that. Each
// Slot is its own buffer; slot 0 is the kernels' workspace, which the caller's thread also uses when it
// runs tasks, so the per-call arrays of evaluate and logp_grad take slots 1 and up.
template <class T, int Slot>
T* thread_buffer(std::size_t n) {
  struct Buffer {
    std::unique_ptr<unsigned char[]> raw;
    std::size_t bytes = 0;
  };
  thread_local Buffer buf;
  const std::size_t need = n * sizeof(T) + 64;
  if (buf.bytes < need) {
    buf.raw.reset(new unsigned char[need]);
    buf.bytes = need;
  }
  auto addr = reinterpret_cast<std::uintptr_t>(buf.raw.get());
  return reinterpret_cast<T*>((addr + 63) & ~std::uintptr_t(63));
}

int resolve_threads(int threads) {
  const int hw = default_pool().max_threads();
  return threads <= 0 ? hw : std::min(threads, hw);
}

// Work split. It depends only on the problem (never on the thread count), so that reductions happen in
// the same order whatever the number of threads.
struct Group {
  std::size_t k0, n_pos;
  bool lane_kernel, rows_in_lanes;
};
struct Split {
  std::vector<Group> groups;
  std::size_t rows_per_chunk, n_chunks;
};

template <class T>
void plan_split(Split& s, const MlpLayout& L, const kernels::KernelSet<T>& ks, std::size_t K, std::size_t N) {
  s.groups.clear();
  const std::size_t W = std::size_t(ks.lanes), P = std::size_t(L.n_weights);
  const std::size_t macs = std::max<std::int64_t>(1, L.macs_per_row());
  // Rows in lanes (one position per task) pads nothing but the last row vector, where the single kernel
  // pads every layer's units to a multiple of W; it holds per-lane gradients (P x W), so it is used while
  // those stay a moderate workspace and it does fewer multiply-adds than the single kernel.
  std::size_t padded = 0;
  for (int l = 1; l <= L.n_layers; ++l)
    padded += std::size_t(L.sizes[l - 1]) * ((std::size_t(L.sizes[l]) + W - 1) / W * W);
  const bool rows = W > 1 && P * W * sizeof(T) <= (std::size_t(8) << 20) && (N + W - 1) / W * W * macs <= N * padded;
  // Positions in lanes (one position per lane, the lane kernel's other mode) gives every position bitwise
  // the result it gets alone, so both modes may be mixed.
  const bool narrow = rows && kernels::positions_in_lanes_fit(L.n_weights, ks.lanes, sizeof(T));
  std::size_t k = 0;
  if (narrow)  // full groups of positions in lanes, then the rest one by one
    for (; k + W <= K; k += W) s.groups.push_back({k, W, true, false});
  for (; k < K; ++k) s.groups.push_back({k, 1, rows, rows});
  // Rows per task: at least ~64k multiply-adds, and with lanes enough rows that the fixed cost of a task
  // (moving or summing P x W per-lane parameters and gradients) stays at a few percent; at most 16
  // chunks. The chunks depend on the problem only (not on K, nor on the threads): a position's result
  // is the same whatever batch it is evaluated in.
  std::size_t min_rows = std::max<std::size_t>(32, (std::size_t(1) << 16) / macs);
  if (rows) min_rows = std::max(min_rows, 120 * P * W / macs);
  const std::size_t want = std::min<std::size_t>(16, std::max<std::size_t>(1, N / min_rows));
  s.rows_per_chunk = (N + want - 1) / want;
  s.rows_per_chunk = (s.rows_per_chunk + 31) / 32 * 32;
  s.n_chunks = (N + s.rows_per_chunk - 1) / s.rows_per_chunk;
}

template <class T>
T finite_or_minus_inf(T v) {
  return std::isnan(v) ? -std::numeric_limits<T>::infinity() : v;
}

}  // namespace

void MlpSpec::validate() const {
  if (sizes.size() < 2) throw std::invalid_argument("sizes: need at least input and output widths");
  if (int(sizes.size()) - 1 > kMaxLayers) throw std::invalid_argument("sizes: too many layers");
  for (int s : sizes)
    if (s < 1) throw std::invalid_argument("sizes: every width must be positive");
  const std::size_t L = sizes.size() - 1;
  if (weight_sd.size() != L) throw std::invalid_argument("weight_sd: need one prior scale per layer");
  if (bias_sd.size() != L) throw std::invalid_argument("bias_sd: need one prior scale per layer");
  for (double v : weight_sd)
    if (!(v > 0) || !std::isfinite(v)) throw std::invalid_argument("weight_sd: scales must be positive");
  for (double v : bias_sd)
    if (!(v > 0) || !std::isfinite(v)) throw std::invalid_argument("bias_sd: scales must be positive");
  if (infer_noise && likelihood != Likelihood::gaussian)
    throw std::invalid_argument("infer_noise: only the gaussian likelihood has a noise scale");
  if (!infer_noise && (!(noise > 0) || !std::isfinite(noise)))
    throw std::invalid_argument("noise: must be positive");
  if (!(noise_scale > 0) || !std::isfinite(noise_scale) || !std::isfinite(noise_loc))
    throw std::invalid_argument("noise_scale: must be positive");
  if (noise_shape != 0 || noise_rate != 0) {
    if (!infer_noise) throw std::invalid_argument("noise_shape: a noise hyperprior needs an inferred noise");
    if (!(noise_shape > 0) || !std::isfinite(noise_shape) || !(noise_rate > 0) || !std::isfinite(noise_rate))
      throw std::invalid_argument("noise_shape: the noise hyperprior's shape and rate must be positive");
  }
  if (likelihood == Likelihood::bernoulli && sizes.back() != 1)
    throw std::invalid_argument("sizes: bernoulli needs one output");
  if (likelihood == Likelihood::categorical && sizes.back() < 2)
    throw std::invalid_argument("sizes: categorical needs at least two outputs");
}

MlpLayout MlpSpec::layout() const {
  validate();
  MlpLayout L;
  L.n_layers = int(sizes.size()) - 1;
  std::int64_t off = 0;
  for (int l = 0; l <= L.n_layers; ++l) L.sizes[l] = sizes[l];
  for (int l = 1; l <= L.n_layers; ++l) {
    L.w_offset[l - 1] = off;
    off += std::int64_t(sizes[l - 1]) * sizes[l];
    L.b_offset[l - 1] = off;
    off += sizes[l];
  }
  L.n_weights = off;
  L.n_params = off + (infer_noise ? 1 : 0);
  L.activation = activation;
  L.likelihood = likelihood;
  L.infer_noise = infer_noise;
  check_precision_groups(groups, L.n_weights);
  return L;
}

template <class T>
MlpPosterior<T>::MlpPosterior(MlpSpec spec, const T* X, const T* y, std::size_t n_rows)
    : spec_(std::move(spec)), layout_(spec_.layout()), n_rows_(n_rows) {
  if (n_rows == 0) throw std::invalid_argument("X: need at least one data row");
  const std::size_t d0 = layout_.in_dim(), dL = layout_.out_dim();
  X_.assign(X, X + n_rows * d0);
  const std::size_t ny = spec_.likelihood == Likelihood::gaussian ? n_rows * dL : n_rows;
  y_.assign(y, y + ny);
  for (T v : X_)
    if (!std::isfinite(double(v))) throw std::invalid_argument("X: must be finite");
  for (T v : y_) {
    if (!std::isfinite(double(v))) throw std::invalid_argument("y: must be finite");
    if (spec_.likelihood == Likelihood::bernoulli && v != T(0) && v != T(1))
      throw std::invalid_argument("y: bernoulli labels must be 0 or 1");
    if (spec_.likelihood == Likelihood::categorical &&
        (v != std::floor(v) || v < 0 || v >= T(dL)))
      throw std::invalid_argument("y: categorical labels must be integers in 0..n_classes-1");
  }
  // Coordinates in precision groups get their prior per point (prior_term); here they count zero.
  std::vector<char> grouped(std::size_t(layout_.n_weights), 0);
  for (const PrecisionGroup& g : spec_.groups) std::fill_n(grouped.begin() + g.begin, g.count, char(1));
  const auto fixed = [&](std::int64_t begin, std::int64_t n) {
    return n - std::count(grouped.begin() + begin, grouped.begin() + begin + n, char(1));
  };
  prior_inv_var_.resize(layout_.n_weights);
  double log_norm = 0;
  for (int l = 1; l <= layout_.n_layers; ++l) {
    const std::int64_t nw = std::int64_t(spec_.sizes[l - 1]) * spec_.sizes[l];
    const double wv = 1.0 / (spec_.weight_sd[l - 1] * spec_.weight_sd[l - 1]);
    const double bv = 1.0 / (spec_.bias_sd[l - 1] * spec_.bias_sd[l - 1]);
    std::fill_n(prior_inv_var_.begin() + layout_.w_offset[l - 1], nw, T(wv));
    std::fill_n(prior_inv_var_.begin() + layout_.b_offset[l - 1], spec_.sizes[l], T(bv));
    log_norm -= fixed(layout_.w_offset[l - 1], nw) * (std::log(spec_.weight_sd[l - 1]) + kHalfLog2Pi);
    log_norm -= fixed(layout_.b_offset[l - 1], spec_.sizes[l]) * (std::log(spec_.bias_sd[l - 1]) + kHalfLog2Pi);
  }
  for (std::size_t i = 0; i < grouped.size(); ++i)
    if (grouped[i]) prior_inv_var_[i] = T(0);
  prior_log_norm_ = T(log_norm);
  log_noise_ = T(std::log(spec_.noise));
}

template <class T>
void MlpPosterior<T>::evaluate(const T* theta, std::size_t K, T* log_prior, T* log_lik, T* grad_prior,
                               T* grad_lik, int threads) const {
  evaluate_given(theta, nullptr, K, nullptr, log_prior, log_lik, grad_prior, grad_lik, threads);
}

template <class T>
void MlpPosterior<T>::evaluate_given(const T* theta, const std::size_t* slots, std::size_t K,
                                     const double* precisions, T* log_prior, T* log_lik, T* grad_prior,
                                     T* grad_lik, int threads) const {
  if (K == 0) return;
  const MlpLayout& L = layout_;
  const std::size_t P = dim(), nw = std::size_t(L.n_weights);
  const auto& ks = kernel_set<T>(active_isa());
  const bool want_grad = grad_lik != nullptr;
  thread_local Split this_thread_split;
  Split& s = this_thread_split;  // a named reference: the tasks on other threads must see this one
  plan_split(s, L, ks, K, n_rows_);
  const std::size_t work = std::max(ks.lane_workspace(L), ks.single_workspace(L));
  const bool gaussian = L.likelihood == Likelihood::gaussian;

  T* inv_var = thread_buffer<T, 1>(K);
  T* log_sigma = thread_buffer<T, 2>(K);
  for (std::size_t k = 0; k < K; ++k) {
    log_sigma[k] = !gaussian ? T(0) : L.infer_noise ? theta[k * P + nw] : log_noise_;
    inv_var[k] = !gaussian ? T(1) : T(std::exp(-2.0 * double(log_sigma[k])));
  }

  // Partial results per (position, row chunk), reduced in chunk order afterwards.
  const std::size_t nc = s.n_chunks;
  T* stat_part = thread_buffer<T, 3>(K * nc);
  T* grad_part = want_grad && nc > 1 ? thread_buffer<T, 4>(K * nc * P) : nullptr;
  T* grad_target = grad_part ? grad_part : grad_lik;
  const std::size_t grad_stride = nc > 1 ? nc * P : P;  // position k, chunk c at k*stride + c*P
  const std::size_t n_tasks = s.groups.size() * nc;
  const auto task_body = [&](std::size_t task) {
    const Group& group = s.groups[task / nc];
    const std::size_t c = task % nc, k0 = group.k0, nk = group.n_pos;
    kernels::LikelihoodTask<T> t;
    t.layout = &L;
    t.X = X_.data();
    t.y = y_.data();
    t.r0 = c * s.rows_per_chunk;
    t.r1 = std::min(n_rows_, t.r0 + s.rows_per_chunk);
    t.theta = theta + k0 * P;
    t.n_pos = nk;
    t.theta_stride = P;
    t.inv_var = inv_var + k0;
    T stat_local[64];
    t.stat = stat_local;
    t.grad = want_grad ? grad_target + k0 * grad_stride + (nc > 1 ? c * P : 0) : nullptr;
    t.grad_stride = grad_stride;
    t.out = nullptr;
    t.work = thread_buffer<T, 0>(work);
    t.rows_in_lanes = group.rows_in_lanes;
    (group.lane_kernel ? ks.lane : ks.single)(t);
    for (std::size_t k = 0; k < nk; ++k) stat_part[(k0 + k) * nc + c] = stat_local[k];
  };
  default_pool().run(n_tasks, resolve_threads(threads), std::cref(task_body));  // by reference: no allocation

  const T n_obs = T(double(n_rows_) * (gaussian ? L.out_dim() : 1));
  for (std::size_t k = 0; k < K; ++k) {
    const T* th = theta + k * P;
    T stat = 0;
    for (std::size_t c = 0; c < nc; ++c) stat += stat_part[k * nc + c];
    T* gl = want_grad ? grad_lik + k * P : nullptr;
    if (gl && nc > 1) {
      const T* part = grad_part + k * grad_stride;
      std::copy(part, part + P, gl);
      for (std::size_t c = 1; c < nc; ++c)
        for (std::size_t p = 0; p < nw; ++p) gl[p] += part[c * P + p];
    }
    T ll = stat;
    if (gaussian) {
      ll = T(-0.5) * stat * inv_var[k] - n_obs * (log_sigma[k] + T(kHalfLog2Pi));
      if (gl && L.infer_noise) gl[nw] = stat * inv_var[k] - n_obs;  // d/ds of the likelihood
    }
    if (log_lik) log_lik[k] = finite_or_minus_inf(ll);
    T* gp = grad_prior ? grad_prior + k * P : nullptr;
    const std::size_t G = spec_.groups.size();
    const T lp = prior_term(th, precisions ? precisions + (slots ? slots[k] : k) * G : nullptr, gp);
    if (log_prior) log_prior[k] = finite_or_minus_inf(lp);
  }
}

template <class T>
T MlpPosterior<T>::prior_term(const T* th, const double* tau, T* gp) const {
  const std::size_t nw = std::size_t(layout_.n_weights);
  T lp = prior_log_norm_;
  for (std::size_t p = 0; p < nw; ++p) {
    lp -= T(0.5) * th[p] * th[p] * prior_inv_var_[p];
    if (gp) gp[p] = -th[p] * prior_inv_var_[p];
  }
  if (!spec_.groups.empty()) {
    double groups = 0;
    for (std::size_t g = 0; g < spec_.groups.size(); ++g) {
      const PrecisionGroup& group = spec_.groups[g];
      const T* x = th + group.begin;
      double squares = 0;
      for (std::int64_t i = 0; i < group.count; ++i) squares += double(x[i]) * double(x[i]);
      // Given tau: N(0, 1/tau) per coordinate, times the hyperprior. Integrated out, the Student t
      // int N(x; 0, 1/tau)^n Gamma(tau; a, b) dtau = b^a G(a + n/2) / (G(a) (2 pi)^(n/2) (b + S/2)^(a + n/2)).
      const double a = group.shape + 0.5 * double(group.count), b = group.rate + 0.5 * squares;
      const double precision = tau ? tau[g] : a / b;
      groups += tau ? group_log_prior(group, tau[g], squares)
                    : group.shape * std::log(group.rate) - std::lgamma(group.shape) + std::lgamma(a) -
                          a * std::log(b) - double(group.count) * kHalfLog2Pi;
      if (gp)
        for (std::int64_t i = 0; i < group.count; ++i) gp[group.begin + i] = T(-precision * double(x[i]));
    }
    lp = T(double(lp) + groups);
  }
  if (layout_.infer_noise) {
    const double s = double(th[nw]);
    if (spec_.noise_shape > 0) {
      // tau = exp(-2 s) ~ Gamma(a, b), as a density of s: Gamma(tau) |d tau / d s| = 2 tau Gamma(tau).
      const double a = spec_.noise_shape, b = spec_.noise_rate, t = std::exp(-2.0 * s);
      lp += T(a * std::log(b) - std::lgamma(a) - 2.0 * a * s - b * t + std::log(2.0));
      if (gp) gp[nw] = T(-2.0 * a + 2.0 * b * t);
    } else {
      const double z = (s - spec_.noise_loc) / spec_.noise_scale;
      lp += T(-0.5 * z * z - std::log(spec_.noise_scale) - kHalfLog2Pi);
      if (gp) gp[nw] = T(-z / spec_.noise_scale);
    }
  }
  return lp;
}

template <class T>
void MlpPosterior<T>::logp_grad(const T* theta, std::size_t K, T* logp, T* grad, int threads) const {
  logp_grad_given(theta, nullptr, K, nullptr, logp, grad, threads);
}

template <class T>
void MlpPosterior<T>::logp_grad_given(const T* theta, const std::size_t* slots, std::size_t K,
                                      const double* precisions, T* logp, T* grad, int threads) const {
  const std::size_t P = dim();
  T* lp = thread_buffer<T, 5>(K);
  T* ll = thread_buffer<T, 6>(K);
  T* gprior = grad ? thread_buffer<T, 7>(K * P) : nullptr;
  evaluate_given(theta, slots, K, precisions, lp, ll, gprior, grad, threads);
  for (std::size_t k = 0; k < K; ++k) {
    logp[k] = finite_or_minus_inf(lp[k] + ll[k]);
    if (grad)
      for (std::size_t p = 0; p < P; ++p) grad[k * P + p] += gprior[k * P + p];
  }
}

template <class T>
void MlpPosterior<T>::forward(const T* theta, std::size_t K, const T* X_new, std::size_t n, T* out,
                              int threads) const {
  const MlpLayout& L = layout_;
  const auto& ks = kernel_set<T>(active_isa());
  const std::size_t P = dim(), dL = L.out_dim(), work = ks.single_workspace(L);
  const std::size_t chunk = 256, nc = (n + chunk - 1) / chunk;
  default_pool().run(K * nc, resolve_threads(threads), [&](std::size_t task) {
    const std::size_t k = task / nc, c = task % nc;
    kernels::LikelihoodTask<T> t{};
    t.layout = &L;
    t.X = X_new;
    t.rows_in_lanes = false;
    t.r0 = c * chunk;
    t.r1 = std::min(n, t.r0 + chunk);
    t.theta = theta + k * P;
    t.n_pos = 1;
    t.theta_stride = P;
    t.out = out + (k * n + t.r0) * dL;
    t.work = thread_buffer<T, 0>(work);
    ks.single(t);
  });
}

namespace {
constexpr std::size_t kSummaryRows = 16;
}

template <class T>
std::size_t MlpPosterior<T>::n_summaries() const {
  return std::min(n_rows_, kSummaryRows) * std::size_t(layout_.out_dim()) + (spec_.infer_noise ? 1 : 0);
}

template <class T>
void MlpPosterior<T>::summaries(const T* theta, std::size_t K, double* out) const {
  const std::size_t n = std::min(n_rows_, kSummaryRows), d0 = std::size_t(layout_.sizes[0]);
  const std::size_t dL = std::size_t(layout_.out_dim()), P = dim(), m = n_summaries();
  std::vector<T> rows(n * d0), f(K * n * dL);
  for (std::size_t r = 0; r < n; ++r) std::copy_n(X_.data() + (r * n_rows_ / n) * d0, d0, rows.data() + r * d0);
  forward(theta, K, rows.data(), n, f.data(), 1);
  for (std::size_t k = 0; k < K; ++k) {
    for (std::size_t i = 0; i < n * dL; ++i) out[k * m + i] = double(f[k * n * dL + i]);
    if (spec_.infer_noise) out[k * m + m - 1] = double(theta[k * P + P - 1]);
  }
}

template <class T>
std::vector<int> MlpPosterior<T>::metric_ties() const {
  const MlpLayout& L = layout_;
  if (L.n_layers < 2) return {};  // no hidden layer, no symmetry
  std::vector<int> ties(dim());
  int group = 0;
  for (int l = 1; l <= L.n_layers; ++l) {
    const int din = L.sizes[l - 1], dout = L.sizes[l];
    int* w = ties.data() + L.w_offset[l - 1];
    int* b = ties.data() + L.b_offset[l - 1];
    if (l == 1) {  // input layer: units permute columns, so each input row is one orbit
      for (int i = 0; i < din; ++i, ++group)
        for (int j = 0; j < dout; ++j) w[i * dout + j] = group;
    } else if (l == L.n_layers) {  // output layer: rows permute, each output column is one orbit
      for (int j = 0; j < dout; ++j, ++group)
        for (int i = 0; i < din; ++i) w[i * dout + j] = group;
    } else {  // hidden to hidden: rows and columns permute, one orbit
      for (int i = 0; i < din * dout; ++i) w[i] = group;
      ++group;
    }
    if (l < L.n_layers) {
      for (int j = 0; j < dout; ++j) b[j] = group;
      ++group;
    } else {
      for (int j = 0; j < dout; ++j) b[j] = group++;
    }
  }
  if (L.infer_noise) ties[L.n_weights] = group++;
  return ties;
}

template class MlpPosterior<double>;
template class MlpPosterior<float>;

}  // namespace symhmc
