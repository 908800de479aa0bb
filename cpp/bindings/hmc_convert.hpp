// Conversions between the samplers' C++ state and Python dicts of numpy arrays (picklable states).
#pragma once
#include "pybind11.hpp"

#include <functional>

#include "symhmc/hmc.hpp"

namespace symhmc {
namespace convert {

template <class V>
inline py::array_t<V> to_array(const std::vector<V>& v, std::vector<py::ssize_t> shape) {
  py::array_t<V> a(shape);
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

template <class V>
inline std::vector<V> from_array(const py::dict& d, const char* key, std::size_t n) {
  if (!d.contains(key)) throw py::value_error(std::string("state: missing '") + key + "'");
  auto a = py::cast<carray<V>>(d[key]);
  if (std::size_t(a.size()) != n) throw py::value_error(std::string("state: '") + key + "' has the wrong size");
  return std::vector<V>(a.data(), a.data() + n);
}

inline py::dict state_to_dict(const HmcState& s) {
  const py::ssize_t C = py::ssize_t(s.chains), P = py::ssize_t(s.dim);
  py::dict d;
  d["chains"] = s.chains;
  d["dim"] = s.dim;
  d["seed"] = s.seed;
  d["iteration"] = s.iteration;
  d["warmup"] = s.warmup;
  d["position"] = to_array(s.position, {C, P});
  d["step_size"] = to_array(s.step_size, {C});
  d["inv_metric"] = to_array(s.inv_metric, {C, P});
  d["da_mu"] = to_array(s.da_mu, {C});
  d["da_h_bar"] = to_array(s.da_h_bar, {C});
  d["da_log_eps_bar"] = to_array(s.da_log_eps_bar, {C});
  d["da_count"] = to_array(s.da_count, {C});
  d["welford_n"] = s.welford_n;
  d["welford_mean"] = to_array(s.welford_mean, {C, P});
  d["welford_m2"] = to_array(s.welford_m2, {C, P});
  return d;
}

inline HmcState state_from_dict(const py::dict& d) {
  HmcState s;
  s.chains = py::cast<std::size_t>(d["chains"]);
  s.dim = py::cast<std::size_t>(d["dim"]);
  s.seed = py::cast<std::uint64_t>(d["seed"]);
  s.iteration = py::cast<std::uint64_t>(d["iteration"]);
  s.warmup = py::cast<std::uint64_t>(d["warmup"]);
  const std::size_t C = s.chains, CP = s.chains * s.dim;
  s.position = from_array<double>(d, "position", CP);
  s.step_size = from_array<double>(d, "step_size", C);
  s.inv_metric = from_array<double>(d, "inv_metric", CP);
  s.da_mu = from_array<double>(d, "da_mu", C);
  s.da_h_bar = from_array<double>(d, "da_h_bar", C);
  s.da_log_eps_bar = from_array<double>(d, "da_log_eps_bar", C);
  s.da_count = from_array<double>(d, "da_count", C);
  s.welford_n = py::cast<double>(d["welford_n"]);
  s.welford_mean = from_array<double>(d, "welford_mean", CP);
  s.welford_m2 = from_array<double>(d, "welford_m2", CP);
  return s;
}

inline HmcSettings settings_from_dict(const py::dict& d) {
  HmcSettings s;
  s.n_steps = py::cast<std::size_t>(d["n_steps"]);
  s.step_jitter = py::cast<double>(d["step_jitter"]);
  s.length_jitter = py::cast<double>(d["length_jitter"]);
  s.target_accept = py::cast<double>(d["target_accept"]);
  s.max_energy_error = py::cast<double>(d["max_energy_error"]);
  s.adapt_step_size = py::cast<bool>(d["adapt_step_size"]);
  s.adapt_metric = py::cast<bool>(d["adapt_metric"]);
  s.threads = py::cast<int>(d["threads"]);
  if (d.contains("init_buffer")) s.init_buffer = py::cast<std::size_t>(d["init_buffer"]);
  if (d.contains("term_buffer")) s.term_buffer = py::cast<std::size_t>(d["term_buffer"]);
  if (d.contains("base_window")) s.base_window = py::cast<std::size_t>(d["base_window"]);
  return s;
}

// Called after every transition with the GIL released: takes the GIL back to honour Ctrl-C (stop
// cleanly, keep what was drawn) and to report progress.
inline std::function<bool(std::size_t)> progress_callback(py::object progress, bool& interrupted) {
  return [progress, &interrupted](std::size_t n) {
    py::gil_scoped_acquire acquire;
    if (PyErr_CheckSignals() != 0) {
      PyErr_Clear();
      interrupted = true;
      return false;
    }
    if (progress.is_none()) return true;
    try {
      progress(n);
    } catch (py::error_already_set& e) {  // Ctrl-C while the progress bar was drawing
      if (!e.matches(PyExc_KeyboardInterrupt)) throw;
      interrupted = true;
      return false;
    }
    return true;
  };
}

}  // namespace convert
}  // namespace symhmc
