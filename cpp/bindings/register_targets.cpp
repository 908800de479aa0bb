#include "pybind11.hpp"

#include "symhmc/analytic.hpp"
#include "symhmc/mlp.hpp"
#include "symhmc/target.hpp"

namespace {
using namespace symhmc;

template <class T, class Class>
void add_evaluation(Class& cls) {
  cls.def(
      "logp_and_grad",
      [](const Target<T>& self, const carray<T>& x, int threads) {
        if (x.ndim() != 2 || std::size_t(x.shape(1)) != self.dim())
          throw py::value_error("theta: expected shape (K, " + std::to_string(self.dim()) + ")");
        const std::size_t K = std::size_t(x.shape(0));
        py::array_t<T> logp(K), grad({K, self.dim()});
        T* lp = logp.mutable_data();
        T* g = grad.mutable_data();
        {
          py::gil_scoped_release release;
          self.logp_grad(x.data(), K, lp, g, threads);
        }
        return py::make_tuple(logp, grad);
      },
      py::arg("theta"), py::arg("threads") = 0);
  cls.def_property_readonly("n_params", &Target<T>::dim);
  cls.def("metric_ties", &Target<T>::metric_ties);
  cls.def_property_readonly("can_split", &Target<T>::can_split);
}
}  // namespace

void register_targets(py::module_& m) {
  auto t64 = py::class_<Target<double>>(m, "TargetF64");
  add_evaluation<double>(t64);
  auto t32 = py::class_<Target<float>>(m, "TargetF32");
  add_evaluation<float>(t32);
  py::class_<GaussianTarget, Target<double>>(m, "GaussianTarget")
      .def(py::init<std::vector<double>, std::vector<double>, bool>(), py::arg("mean"), py::arg("cov"),
           py::arg("diagonal"));
  py::class_<GaussianMixtureTarget, Target<double>>(m, "GaussianMixtureTarget")
      .def(py::init<std::vector<double>, std::vector<double>, std::vector<double>, std::size_t, double>(),
           py::arg("weights"), py::arg("means"), py::arg("sds"), py::arg("dim"), py::arg("reference_sd") = 0.0);
  py::class_<FunnelTarget, Target<double>>(m, "FunnelTarget")
      .def(py::init<std::size_t, double>(), py::arg("dim"), py::arg("scale"));
}
