// Every SIMD kernel this CPU runs (NEON on aarch64, AVX2 and AVX-512 on x86), checked from C++ so that
// the same program also runs under qemu for a cross-compiled aarch64 build (tests/test_aarch64.py):
// * log density, gradient and predictions against the scalar kernel (float64 1e-13, float32 1e-5,
//   relative: max|a - b| / max(1, max|b|)), over activations, likelihoods, both kernel layouts and K;
// * the best kernel's gradient against central finite differences;
// * bitwise the same gradients and HMC draws with 1 and 3 threads;
// * a short HMC run on a Bayesian linear regression (a net with no hidden layer), whose posterior
//   mean and variance are known in closed form, within 5 Monte Carlo standard errors (ESS-based).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "check.hpp"
#include "symhmc/hmc.hpp"
#include "symhmc/mlp.hpp"
#include "symhmc/simd.hpp"

namespace {

using namespace symhmc;

struct Case {
  const char* name;
  std::vector<int> sizes;
  Activation act;
  Likelihood lik;
  bool infer_noise;
};

// Odd widths take the lane kernel; even widths with an odd row count the single one (see plan_split).
const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"tanh-gaussian-13", {5, 13, 1}, Activation::tanh, Likelihood::gaussian, false},
      {"relu-gaussian_infer-37x13", {5, 37, 13, 1}, Activation::relu, Likelihood::gaussian, true},
      {"sigmoid-bernoulli-5", {5, 5, 1}, Activation::sigmoid, Likelihood::bernoulli, false},
      {"gelu-categorical-16x8", {5, 16, 8, 4}, Activation::gelu, Likelihood::categorical, false},
      {"silu-gaussian-8x2", {5, 8, 2}, Activation::silu, Likelihood::gaussian, false},
      {"identity-categorical", {5, 3}, Activation::identity, Likelihood::categorical, false},
      {"tanh-bernoulli-37", {5, 37, 1}, Activation::tanh, Likelihood::bernoulli, false},
      {"tanh-gaussian-64x64x2", {5, 64, 64, 2}, Activation::tanh, Likelihood::gaussian, false},
  };
  return c;
}

double unit(std::uint64_t& s) {  // a fixed, platform-independent sequence in [-1, 1)
  s = s * 6364136223846793005ULL + 1442695040888963407ULL;
  return double(s >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

template <class T>
struct Model {
  std::vector<T> X, y;
  MlpSpec spec;
  std::size_t n;
};

template <class T>
Model<T> make_model(const Case& c, std::size_t n, std::uint64_t seed) {
  Model<T> m;
  m.n = n;
  m.spec.sizes = c.sizes;
  m.spec.activation = c.act;
  m.spec.likelihood = c.lik;
  m.spec.noise = 0.3;
  m.spec.infer_noise = c.infer_noise;
  const std::size_t L = c.sizes.size() - 1, d0 = std::size_t(c.sizes[0]), dout = std::size_t(c.sizes[L]);
  for (std::size_t l = 0; l < L; ++l) {
    m.spec.weight_sd.push_back(1.0 / std::sqrt(double(c.sizes[l])));
    m.spec.bias_sd.push_back(1.0);
  }
  m.X.resize(n * d0);
  for (auto& v : m.X) v = T(unit(seed));
  if (c.lik == Likelihood::gaussian) {
    m.y.resize(n * dout);
    for (auto& v : m.y) v = T(unit(seed));
  } else {
    const double classes = c.lik == Likelihood::bernoulli ? 2 : double(dout);
    m.y.resize(n);
    for (auto& v : m.y) v = T(std::floor((unit(seed) + 1) / 2 * classes));
  }
  return m;
}

template <class T>
std::vector<T> random_theta(std::size_t K, std::size_t P, bool infer_noise, std::uint64_t seed) {
  std::vector<T> theta(K * P);
  for (auto& v : theta) v = T(0.7 * unit(seed));
  if (infer_noise)
    for (std::size_t k = 0; k < K; ++k) theta[k * P + P - 1] = T(-0.7 + 0.3 * unit(seed));
  return theta;
}

template <class T>
double rel_err(const std::vector<T>& a, const std::vector<T>& b) {
  double diff = 0, scale = 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::fabs(double(b[i])));
  }
  return diff / scale;
}

template <class T>
struct Outputs {
  std::vector<T> logp, grad, logp_only, pred;
};

template <class T>
Outputs<T> evaluate(const MlpPosterior<T>& post, const std::vector<T>& theta, std::size_t K, const T* X_new,
                    std::size_t n_new, int threads) {
  const std::size_t P = post.dim(), dout = std::size_t(post.spec().sizes.back());
  Outputs<T> o;
  o.logp.resize(K), o.grad.resize(K * P), o.logp_only.resize(K), o.pred.resize(K * n_new * dout);
  post.logp_grad(theta.data(), K, o.logp.data(), o.grad.data(), threads);
  post.logp_grad(theta.data(), K, o.logp_only.data(), nullptr, threads);
  post.forward(theta.data(), K, X_new, n_new, o.pred.data(), threads);
  return o;
}

template <class T>
void kernel_against_scalar(Isa isa, double tol) {
  const char* dtype = sizeof(T) == 8 ? "float64" : "float32";
  for (const Case& c : cases()) {
    const Model<T> m = make_model<T>(c, 67, 3);
    const MlpPosterior<T> post(m.spec, m.X.data(), m.y.data(), m.n);
    std::uint64_t s = 5;
    std::vector<T> X_new(23 * std::size_t(c.sizes[0]));
    for (auto& v : X_new) v = T(unit(s));
    for (std::size_t K : {1, 3, 8, 17}) {
      const std::vector<T> theta = random_theta<T>(K, post.dim(), c.infer_noise, 4 + K);
      set_active_isa(Isa::scalar);
      const Outputs<T> ref = evaluate(post, theta, K, X_new.data(), 23, 0);
      set_active_isa(isa);
      const Outputs<T> got = evaluate(post, theta, K, X_new.data(), 23, 0);
      const double e[4] = {rel_err(got.logp, ref.logp), rel_err(got.grad, ref.grad),
                           rel_err(got.logp_only, ref.logp_only), rel_err(got.pred, ref.pred)};
      const char* what[4] = {"logp", "grad", "logp without gradient", "predict"};
      for (int i = 0; i < 4; ++i)
        CHECK(e[i] <= tol, "%s vs scalar, %s, %s, K = %zu: %s rel err %.3g > %.3g", isa_name(isa), c.name, dtype,
              K, what[i], e[i], tol);
    }
  }
}

// The active kernel's gradient against central differences of its own log density.
void gradient_against_finite_differences() {
  for (const Case& c : cases()) {
    const Model<double> m = make_model<double>(c, 67, 7);
    const MlpPosterior<double> post(m.spec, m.X.data(), m.y.data(), m.n);
    const std::size_t P = post.dim(), K = 3;
    const std::vector<double> theta = random_theta<double>(K, P, c.infer_noise, 11);
    std::vector<double> logp(K), grad(K * P);
    post.logp_grad(theta.data(), K, logp.data(), grad.data());
    // theta_k +- h e_p for every checked (k, p), evaluated as one batch
    const double h = 1e-5;
    std::vector<std::size_t> checked;  // k * P + p
    std::vector<double> points;
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t p = 0; p < P; p += std::max<std::size_t>(1, P / 40)) {
        checked.push_back(k * P + p);
        for (double sign : {1.0, -1.0}) {
          points.insert(points.end(), theta.begin() + k * P, theta.begin() + (k + 1) * P);
          points[points.size() - P + p] += sign * h;
        }
      }
    std::vector<double> lp(points.size() / P);
    post.logp_grad(points.data(), lp.size(), lp.data(), nullptr);
    double worst = 0;
    for (std::size_t i = 0; i < checked.size(); ++i) {
      const double fd = (lp[2 * i] - lp[2 * i + 1]) / (2 * h);
      worst = std::max(worst, std::fabs(fd - grad[checked[i]]) / std::max(1.0, std::fabs(fd)));
    }
    CHECK(worst < 1e-6, "%s, %s: gradient vs finite differences, max rel err %.3g", isa_name(active_isa()), c.name,
          worst);
  }
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Enough rows for several row chunks and enough positions for several groups: the threads share tasks.
// Three cases (lane kernel, single kernel, two hidden layers) keep the run short under qemu.
void gradients_independent_of_threads() {
  for (std::size_t i : {0, 3, 7}) {
    const Case& c = cases()[i];
    const Model<double> m = make_model<double>(c, 600, 13);
    const MlpPosterior<double> post(m.spec, m.X.data(), m.y.data(), m.n);
    const std::size_t K = 11;
    const std::vector<double> theta = random_theta<double>(K, post.dim(), c.infer_noise, 17);
    const Outputs<double> one = evaluate(post, theta, K, m.X.data(), 40, 1);
    const Outputs<double> more = evaluate(post, theta, K, m.X.data(), 40, 3);
    CHECK(same_bits(one.logp, more.logp) && same_bits(one.grad, more.grad) &&
              same_bits(one.logp_only, more.logp_only) && same_bits(one.pred, more.pred),
          "%s, %s: results with 1 and 3 threads differ", isa_name(active_isa()), c.name);
  }
}

// Effective sample size of the chains' draws x[c][t] (Geyer's initial positive sequence on the
// autocorrelations averaged over chains).
double ess(const std::vector<std::vector<double>>& x) {
  const std::size_t C = x.size(), N = x[0].size();
  std::vector<double> mean(C, 0.0);
  double var = 0;
  for (std::size_t c = 0; c < C; ++c) {
    for (double v : x[c]) mean[c] += v / double(N);
    for (double v : x[c]) var += (v - mean[c]) * (v - mean[c]) / double(N * C);
  }
  auto rho = [&](std::size_t lag) {
    double s = 0;
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t t = 0; t + lag < N; ++t) s += (x[c][t] - mean[c]) * (x[c][t + lag] - mean[c]);
    return s / double(N * C) / var;
  };
  double tau = -1;  // 1 + 2 sum_{lag >= 1} rho = -1 + 2 sum over pairs (rho_2k + rho_2k+1)
  for (std::size_t lag = 0; lag + 1 < N; lag += 2) {
    const double pair = rho(lag) + rho(lag + 1);
    if (pair <= 0) break;
    tau += 2 * pair;
  }
  return double(N * C) / std::max(tau, 1e-3);
}

// y = x w + b + noise with a N(0, 1) prior on w and b and fixed noise: a Gaussian posterior.
struct Regression {
  std::vector<double> X, y, mean, var;  // var: posterior marginal variances
  MlpSpec spec;
  std::size_t n = 40, d = 2;
  Regression() {
    std::uint64_t s = 21;
    X.resize(n * d), y.resize(n);
    for (auto& v : X) v = 1.5 * unit(s);
    for (std::size_t i = 0; i < n; ++i) y[i] = 0.8 * X[i * d] - 0.5 * X[i * d + 1] + 0.3 + 0.5 * unit(s);
    spec.sizes = {int(d), 1};
    spec.activation = Activation::identity;
    spec.noise = 0.5;
    spec.weight_sd = {1.0};
    spec.bias_sd = {1.0};
    // Precision A = Z^T Z / s^2 + I with Z = [X, 1]; mean = A^-1 Z^T y / s^2 (Gauss-Jordan on 3 x 3).
    const std::size_t P = d + 1;
    std::vector<double> A(P * P, 0.0), inv(P * P, 0.0), b(P, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      double z[3] = {X[i * d], X[i * d + 1], 1.0};
      for (std::size_t r = 0; r < P; ++r) {
        b[r] += z[r] * y[i] / (spec.noise * spec.noise);
        for (std::size_t q = 0; q < P; ++q) A[r * P + q] += z[r] * z[q] / (spec.noise * spec.noise);
      }
    }
    for (std::size_t r = 0; r < P; ++r) A[r * P + r] += 1.0, inv[r * P + r] = 1.0;
    for (std::size_t col = 0; col < P; ++col) {
      const double piv = A[col * P + col];
      for (std::size_t q = 0; q < P; ++q) A[col * P + q] /= piv, inv[col * P + q] /= piv;
      for (std::size_t r = 0; r < P; ++r)
        if (r != col) {
          const double f = A[r * P + col];
          for (std::size_t q = 0; q < P; ++q) A[r * P + q] -= f * A[col * P + q], inv[r * P + q] -= f * inv[col * P + q];
        }
    }
    mean.assign(P, 0.0);
    for (std::size_t r = 0; r < P; ++r) {
      for (std::size_t q = 0; q < P; ++q) mean[r] += inv[r * P + q] * b[q];
      var.push_back(inv[r * P + r]);
    }
  }
};

std::vector<double> run_hmc(const Target<double>& target, std::size_t chains, std::size_t warmup, std::size_t draws,
                            int threads) {
  const std::size_t P = target.dim();
  std::vector<double> init(chains * P);
  std::uint64_t s = 99;
  for (auto& v : init) v = unit(s);
  HmcSettings settings;
  settings.threads = threads;
  HmcSampler<double> sampler(target, settings, HmcSampler<double>::initial_state(chains, P, 42, warmup, init.data()));
  std::vector<double> out(chains * draws * P);
  std::vector<DrawStats> stats(chains * draws);
  DrawSink<double> sink;
  sink.draws = out.data();
  sink.stats = stats.data();
  sink.capacity = draws;
  sampler.run(warmup + draws, 1, sink, [](std::size_t) { return true; });
  CHECK(sink.written == draws, "HMC stored %zu of %zu draws", sink.written, draws);
  return out;
}

void hmc_known_posterior() {
  const Regression r;
  const MlpPosterior<double> post(r.spec, r.X.data(), r.y.data(), r.n);
  const std::size_t C = 4, N = 400, P = post.dim();
  const std::vector<double> draws = run_hmc(post, C, 300, N, 1);
  for (std::size_t p = 0; p < P; ++p) {
    std::vector<std::vector<double>> x(C, std::vector<double>(N)), sq(C, std::vector<double>(N));
    double m = 0, v = 0;
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t t = 0; t < N; ++t) {
        const double val = draws[(c * N + t) * P + p], dev = val - r.mean[p];
        x[c][t] = val, sq[c][t] = dev * dev;
        m += val / double(C * N), v += dev * dev / double(C * N);
      }
    const double se_mean = std::sqrt(r.var[p] / ess(x));
    const double se_var = std::sqrt(2.0 / ess(sq)) * r.var[p];  // Var of a squared Gaussian: 2 var^2
    CHECK(std::fabs(m - r.mean[p]) < 5 * se_mean, "%s: HMC mean of parameter %zu: %.5f, exact %.5f (se %.2g)",
          isa_name(active_isa()), p, m, r.mean[p], se_mean);
    CHECK(std::fabs(v - r.var[p]) < 5 * se_var, "%s: HMC variance of parameter %zu: %.5g, exact %.5g (se %.2g)",
          isa_name(active_isa()), p, v, r.var[p], se_var);
  }
}

void hmc_independent_of_threads() {
  const Case c{"tanh-gaussian-13", {5, 13, 1}, Activation::tanh, Likelihood::gaussian, false};
  const Model<double> m = make_model<double>(c, 100, 23);
  const MlpPosterior<double> post(m.spec, m.X.data(), m.y.data(), m.n);
  const std::vector<double> one = run_hmc(post, 11, 10, 5, 1);
  CHECK(same_bits(one, run_hmc(post, 11, 10, 5, 3)), "%s: HMC draws with 1 and 3 threads differ",
        isa_name(active_isa()));
}

}  // namespace

int main() {
  std::vector<Isa> kernels;
  for (Isa isa : compiled_isas())
    if (isa != Isa::scalar && isa_supported(isa)) kernels.push_back(isa);
  // A build for a CPU family with a SIMD kernel that finds none to test fails rather than passing empty.
  CHECK(!kernels.empty(), "no SIMD kernel is compiled and supported here (best: %s)", isa_name(best_isa()));
  for (Isa isa : kernels) {
    kernel_against_scalar<double>(isa, 1e-13);
    kernel_against_scalar<float>(isa, 1e-5);
  }
  set_active_isa(best_isa());
  gradient_against_finite_differences();
  gradients_independent_of_threads();
  hmc_known_posterior();
  hmc_independent_of_threads();
  std::string names;
  for (Isa isa : kernels) names += std::string(" ") + isa_name(isa);
  std::printf("kernels checked:%s; best %s; %d failures\n", names.c_str(), isa_name(best_isa()),
              symhmc_test::failures());
  return symhmc_test::failures() == 0 ? 0 : 1;
}
