#include "pybind11.hpp"

#include "symhmc/mlp.hpp"
#include "symhmc/symmetry.hpp"

namespace {
using namespace symhmc;

template <class T>
void register_symmetry_for(py::module_& m, const char* base_name, const char* name) {
  py::class_<Symmetry<T>>(m, base_name);
  py::class_<MlpSymmetry<T>, Symmetry<T>>(m, name)
      .def(py::init([](const MlpPosterior<T>& model, const std::string& key) {
             SortKey k;
             if (!sort_key_from_name(key, &k)) throw py::value_error("key: unknown sort key '" + key + "'");
             return new MlpSymmetry<T>(model.layout(), k);
           }),
           py::arg("model"), py::arg("key"))
      .def_property_readonly("sign_flips", &MlpSymmetry<T>::sign_flips)
      .def_property_readonly("log_group_size", &MlpSymmetry<T>::log_group_size)
      .def(
          "canonicalize",
          [](const MlpSymmetry<T>& self, carray<T> x) {
            if (x.ndim() != 2) throw py::value_error("draws: expected a 2-D array (K, P)");
            py::array_t<T> out({x.shape(0), x.shape(1)});
            std::copy(x.data(), x.data() + x.size(), out.mutable_data());
            T* p = out.mutable_data();
            const std::size_t K = std::size_t(x.shape(0));
            {
              py::gil_scoped_release release;
              self.canonicalize(p, K);
            }
            return out;
          },
          py::arg("draws"), "canonical representatives of the rows of draws (a copy)");
}
}  // namespace

void register_symmetry(py::module_& m) {
  register_symmetry_for<double>(m, "SymmetryF64", "MlpSymmetryF64");
  register_symmetry_for<float>(m, "SymmetryF32", "MlpSymmetryF32");
}
