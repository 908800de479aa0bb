#include "pybind11.hpp"

#include "symhmc/mlp.hpp"
#include "symhmc/predictive.hpp"

namespace {
using namespace symhmc;

Activation activation_from(const std::string& s) {
  if (s == "tanh") return Activation::tanh;
  if (s == "relu") return Activation::relu;
  if (s == "sigmoid") return Activation::sigmoid;
  if (s == "gelu") return Activation::gelu;
  if (s == "silu") return Activation::silu;
  if (s == "identity") return Activation::identity;
  throw py::value_error("activation: unknown '" + s + "'");
}

Likelihood likelihood_from(const std::string& s) {
  if (s == "gaussian") return Likelihood::gaussian;
  if (s == "bernoulli") return Likelihood::bernoulli;
  if (s == "categorical") return Likelihood::categorical;
  throw py::value_error("likelihood: unknown '" + s + "'");
}

template <class T>
const T* rows_of(const carray<T>& a, std::size_t P, const char* name, std::size_t* K) {
  if (a.ndim() != 2 || std::size_t(a.shape(1)) != P)
    throw py::value_error(std::string(name) + ": expected shape (K, " + std::to_string(P) + ")");
  *K = std::size_t(a.shape(0));
  return a.data();
}

template <class T>
void register_posterior(py::module_& m, const char* name) {
  using Post = MlpPosterior<T>;
  py::class_<Post, Target<T>>(m, name)
      .def(py::init([](std::vector<int> sizes, const std::string& activation, const std::string& likelihood,
                       double noise, bool infer_noise, double noise_loc, double noise_scale,
                       std::vector<double> weight_sd, std::vector<double> bias_sd, carray<T> X, carray<T> y,
                       std::vector<std::tuple<std::int64_t, std::int64_t, double, double, double>> groups,
                       double noise_shape, double noise_rate) {
             MlpSpec spec;
             spec.sizes = std::move(sizes);
             spec.activation = activation_from(activation);
             spec.likelihood = likelihood_from(likelihood);
             spec.noise = noise;
             spec.infer_noise = infer_noise;
             spec.noise_loc = noise_loc;
             spec.noise_scale = noise_scale;
             spec.weight_sd = std::move(weight_sd);
             spec.bias_sd = std::move(bias_sd);
             for (const auto& g : groups)
               spec.groups.push_back({std::get<0>(g), std::get<1>(g), std::get<2>(g), std::get<3>(g), std::get<4>(g)});
             spec.noise_shape = noise_shape;
             spec.noise_rate = noise_rate;
             spec.validate();
             if (X.ndim() != 2 || X.shape(1) != spec.sizes.front())
               throw py::value_error("X: expected shape (N, d_0)");
             const std::size_t n = std::size_t(X.shape(0));
             const std::size_t y_len = spec.likelihood == Likelihood::gaussian ? n * spec.sizes.back() : n;
             if (std::size_t(y.size()) != y_len) throw py::value_error("y: length does not match X");
             return new Post(spec, X.data(), y.data(), n);
           }),
           py::arg("sizes"), py::arg("activation"), py::arg("likelihood"), py::arg("noise"),
           py::arg("infer_noise"), py::arg("noise_loc"), py::arg("noise_scale"), py::arg("weight_sd"),
           py::arg("bias_sd"), py::arg("X"), py::arg("y"),
           py::arg("groups") = std::vector<std::tuple<std::int64_t, std::int64_t, double, double, double>>{},
           py::arg("noise_shape") = 0.0, py::arg("noise_rate") = 0.0)
      .def_property_readonly("n_params", &Post::dim)
      .def_property_readonly("n_rows", &Post::n_rows)
      .def_property_readonly("n_precision_groups", [](const Post& self) { return self.precision_groups().size(); })
      .def(
          "evaluate_given",
          [](const Post& self, const carray<T>& theta, const carray<double>& precisions, int threads) {
            std::size_t K;
            const T* th = rows_of(theta, self.dim(), "theta", &K);
            const std::size_t G = self.precision_groups().size();
            if (G == 0) throw py::value_error("precisions: this posterior has a fixed prior");
            if (precisions.ndim() != 2 || std::size_t(precisions.shape(0)) != K || std::size_t(precisions.shape(1)) != G)
              throw py::value_error("precisions: expected shape (K, " + std::to_string(G) + ")");
            py::array_t<T> lprior(K), llik(K), gprior({K, self.dim()}), glik({K, self.dim()});
            T *a = lprior.mutable_data(), *b = llik.mutable_data(), *c = gprior.mutable_data(),
              *d = glik.mutable_data();
            {
              py::gil_scoped_release release;
              self.evaluate_given(th, nullptr, K, precisions.data(), a, b, c, d, threads);
            }
            return py::make_tuple(lprior, llik, gprior, glik);
          },
          py::arg("theta"), py::arg("precisions"), py::arg("threads") = 0,
          "log prior (with the hyperprior) and log likelihood given per-point group precisions, and gradients")
      .def(
          "logp",
          [](const Post& self, const carray<T>& theta, int threads) {
            std::size_t K;
            const T* th = rows_of(theta, self.dim(), "theta", &K);
            py::array_t<T> logp(K);
            T* lp = logp.mutable_data();
            {
              py::gil_scoped_release release;
              self.logp_grad(th, K, lp, nullptr, threads);
            }
            return logp;
          },
          py::arg("theta"), py::arg("threads") = 0)
      .def(
          "evaluate",
          [](const Post& self, const carray<T>& theta, int threads) {
            std::size_t K;
            const T* th = rows_of(theta, self.dim(), "theta", &K);
            py::array_t<T> lprior(K), llik(K), gprior({K, self.dim()}), glik({K, self.dim()});
            T *a = lprior.mutable_data(), *b = llik.mutable_data(), *c = gprior.mutable_data(),
              *d = glik.mutable_data();
            {
              py::gil_scoped_release release;
              self.evaluate(th, K, a, b, c, d, threads);
            }
            return py::make_tuple(lprior, llik, gprior, glik);
          },
          py::arg("theta"), py::arg("threads") = 0,
          "log prior, log likelihood and their gradients, apart")
      .def(
          "forward",
          [](const Post& self, const carray<T>& theta, const carray<T>& X_new, int threads) {
            std::size_t K;
            const T* th = rows_of(theta, self.dim(), "theta", &K);
            const int d0 = self.layout().in_dim();
            if (X_new.ndim() != 2 || X_new.shape(1) != d0)
              throw py::value_error("X_new: expected shape (n, " + std::to_string(d0) + ")");
            const std::size_t n = std::size_t(X_new.shape(0));
            const std::size_t dL = std::size_t(self.layout().out_dim());
            py::array_t<T> out({K, n, dL});
            T* o = out.mutable_data();
            {
              py::gil_scoped_release release;
              self.forward(th, K, X_new.data(), n, o, threads);
            }
            return out;
          },
          py::arg("theta"), py::arg("X_new"), py::arg("threads") = 0)
      .def(
          "predictive_summary",
          [](const Post& self, const carray<T>& theta, const carray<T>& X_new, int link,
             const carray<double>& probs, int threads) {
            std::size_t S;
            const T* th = rows_of(theta, self.dim(), "draws", &S);
            const int d0 = self.layout().in_dim();
            if (X_new.ndim() != 2 || X_new.shape(1) != d0)
              throw py::value_error("X_new: expected shape (n, " + std::to_string(d0) + ")");
            const std::size_t n = std::size_t(X_new.shape(0)), d = std::size_t(self.layout().out_dim());
            const std::size_t nq = std::size_t(probs.size());
            py::array_t<double> mean({n, d}), sd({n, d}), q({nq, n, d});
            double *pm = mean.mutable_data(), *ps = sd.mutable_data(), *pq = q.mutable_data();
            {
              py::gil_scoped_release release;
              predictive_summary(self, th, S, X_new.data(), n, Link(link), probs.data(), nq, pm, ps, pq, threads);
            }
            return py::make_tuple(mean, sd, q);
          },
          py::arg("draws"), py::arg("X_new"), py::arg("link"), py::arg("quantiles"), py::arg("threads") = 0,
          "posterior predictive mean, sd and quantiles; link 0 identity, 1 sigmoid, 2 softmax");
}
}  // namespace

void register_model(py::module_& m) {
  register_posterior<double>(m, "MlpPosteriorF64");
  register_posterior<float>(m, "MlpPosteriorF32");
}
