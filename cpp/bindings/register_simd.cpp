#include "pybind11.hpp"

#include "symhmc/simd.hpp"
#include "symhmc/thread_pool.hpp"

void register_simd(py::module_& m) {
  using namespace symhmc;
  m.def("simd_info", [] {
    py::list compiled, supported;
    for (Isa isa : compiled_isas()) {
      compiled.append(isa_name(isa));
      if (isa_supported(isa)) supported.append(isa_name(isa));
    }
    py::dict d;
    d["active"] = isa_name(active_isa());
    d["best"] = isa_name(best_isa());
    d["compiled"] = compiled;
    d["supported"] = supported;
    return d;
  });
  m.def("set_simd", [](const std::string& name) {
    Isa isa;
    if (!isa_from_name(name, &isa)) throw py::value_error("simd: unknown kernel '" + name + "'");
    if (!set_active_isa(isa))
      throw py::value_error("simd: kernel '" + name + "' is not supported by this CPU or build");
  });
  m.def("hardware_threads", &hardware_threads);
}
