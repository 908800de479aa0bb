#include "pybind11.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "symhmc compiled core (use the symhmc package, not this module)";
  register_simd(m);
  register_targets(m);
  register_model(m);
  register_symmetry(m);
  register_tempering(m);
  register_hmc(m);
}
