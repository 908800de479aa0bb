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

inline std::size_t array_size(const py::dict& d, const char* key) {
  if (!d.contains(key)) throw py::value_error(std::string("state: missing '") + key + "'");
  return std::size_t(py::cast<carray<double>>(d[key]).size());
}

inline py::dict state_to_dict(const HmcState& s) {
  const py::ssize_t C = py::ssize_t(s.chains), P = py::ssize_t(s.dim);
  py::dict d;
  d["chains"] = s.chains;
  d["dim"] = s.dim;
  d["seed"] = s.seed;
  d["iteration"] = s.iteration;
  d["warmup"] = s.warmup;
  d["chain_offset"] = s.chain_offset;
  d["position"] = to_array(s.position, {C, P});
  d["step_size"] = to_array(s.step_size, {C});
  d["inv_metric"] = to_array(s.inv_metric, {C, P});
  std::vector<double> da(4 * s.chains);
  for (std::size_t c = 0; c < s.chains; ++c) {
    const DualAveraging::State& a = s.step_adaptation[c];
    da[4 * c] = a.mu, da[4 * c + 1] = a.h_bar, da[4 * c + 2] = a.log_eps_bar, da[4 * c + 3] = a.count;
  }
  d["dual_averaging"] = to_array(da, {C, 4});  // mu, h_bar, log_eps_bar, count
  const MetricAdapter::State& m = s.metric_adaptation;
  d["window_n"] = m.n;
  d["window_mean"] = to_array(m.mean, {C, P});
  d["window_m2"] = to_array(m.m2, {C, P});
  const TrajectoryAdapter::State& t = s.trajectory_adaptation;
  d["log_length"] = t.log_length;
  d["log_length_avg"] = t.log_length_avg;
  d["adam"] = to_array(std::vector<double>{t.adam_m, t.adam_v, t.updates, t.criterion}, {4});  // m, v, updates, ChEES
  d["centre_n"] = t.centre_n;
  d["centre"] = to_array(t.centre, {C, P});
  if (!s.precisions.empty()) {  // hierarchical priors only
    d["precisions"] = to_array(s.precisions, {C, py::ssize_t(s.precisions.size() / s.chains)});
    d["point_logp"] = to_array(s.point_logp, {C});
    d["point_grad"] = to_array(s.point_grad, {C, P});
  }
  d["length_selection"] = to_array(std::vector<double>{t.base_log_length, t.multiple, t.block_gradients, t.settle}, {4});
  d["length_tried"] = to_array(t.tried, {py::ssize_t(t.tried.size() / 3), 3});  // multiple, ESS, gradients
  d["length_block"] = to_array(t.block, {py::ssize_t(t.block.size())});
  return d;
}

inline HmcState state_from_dict(const py::dict& d) {
  HmcState s;
  s.chains = py::cast<std::size_t>(d["chains"]);
  s.dim = py::cast<std::size_t>(d["dim"]);
  s.seed = py::cast<std::uint64_t>(d["seed"]);
  s.iteration = py::cast<std::uint64_t>(d["iteration"]);
  s.warmup = py::cast<std::uint64_t>(d["warmup"]);
  if (d.contains("chain_offset")) s.chain_offset = py::cast<std::uint64_t>(d["chain_offset"]);  // older states: 0
  const std::size_t C = s.chains, CP = s.chains * s.dim;
  s.position = from_array<double>(d, "position", CP);
  s.step_size = from_array<double>(d, "step_size", C);
  s.inv_metric = from_array<double>(d, "inv_metric", CP);
  const std::vector<double> da = from_array<double>(d, "dual_averaging", 4 * C);
  s.step_adaptation.resize(C);
  for (std::size_t c = 0; c < C; ++c) s.step_adaptation[c] = {da[4 * c], da[4 * c + 1], da[4 * c + 2], da[4 * c + 3]};
  MetricAdapter::State& m = s.metric_adaptation;
  m.n = py::cast<double>(d["window_n"]);
  m.mean = from_array<double>(d, "window_mean", CP);
  m.m2 = from_array<double>(d, "window_m2", CP);
  TrajectoryAdapter::State& t = s.trajectory_adaptation;
  t.log_length = py::cast<double>(d["log_length"]);
  t.log_length_avg = py::cast<double>(d["log_length_avg"]);
  const std::vector<double> adam = from_array<double>(d, "adam", 4);
  t.adam_m = adam[0], t.adam_v = adam[1], t.updates = adam[2], t.criterion = adam[3];
  t.centre_n = py::cast<double>(d["centre_n"]);
  t.centre = from_array<double>(d, "centre", CP);
  if (d.contains("precisions")) {
    auto tau = py::cast<carray<double>>(d["precisions"]);
    s.precisions.assign(tau.data(), tau.data() + tau.size());
    s.point_logp = from_array<double>(d, "point_logp", C);
    s.point_grad = from_array<double>(d, "point_grad", CP);
  }
  const std::vector<double> selection = from_array<double>(d, "length_selection", 4);
  t.base_log_length = selection[0], t.multiple = selection[1], t.block_gradients = selection[2];
  t.settle = selection[3];
  t.tried = from_array<double>(d, "length_tried", array_size(d, "length_tried"));
  if (t.tried.size() % 3 != 0) throw py::value_error("state: 'length_tried' has the wrong size");
  t.block = from_array<double>(d, "length_block", array_size(d, "length_block"));
  return s;
}

inline HmcSettings settings_from_dict(const py::dict& d) {
  HmcSettings s;
  s.kernel = static_cast<Kernel>(py::cast<int>(d["kernel"]));
  s.n_steps = py::cast<std::size_t>(d["n_steps"]);
  s.max_tree_depth = py::cast<int>(d["max_tree_depth"]);
  s.step_jitter = py::cast<double>(d["step_jitter"]);
  s.length_jitter = py::cast<double>(d["length_jitter"]);
  s.target_accept = py::cast<double>(d["target_accept"]);
  s.max_energy_error = py::cast<double>(d["max_energy_error"]);
  s.initial_step_size = py::cast<double>(d["initial_step_size"]);
  s.adapt_step_size = py::cast<bool>(d["adapt_step_size"]);
  s.adapt_metric = py::cast<bool>(d["adapt_metric"]);
  s.threads = py::cast<int>(d["threads"]);
  if (d.contains("init_buffer")) s.init_buffer = py::cast<std::size_t>(d["init_buffer"]);
  if (d.contains("term_buffer")) s.term_buffer = py::cast<std::size_t>(d["term_buffer"]);
  if (d.contains("base_window")) s.base_window = py::cast<std::size_t>(d["base_window"]);
  if (d.contains("marginal_precisions")) s.marginal_precisions = py::cast<bool>(d["marginal_precisions"]);
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
      // False (not None) pauses the run after this transition, e.g. to write a checkpoint.
      if (progress(n).is(py::bool_(false))) return false;
    } catch (py::error_already_set& e) {  // Ctrl-C while the progress bar was drawing
      if (!e.matches(PyExc_KeyboardInterrupt)) throw;
      interrupted = true;
      return false;
    }
    return true;
  };
}

// Polled inside long transitions (StopCheck rate-limits it to every ~20 ms), with the GIL released:
// takes the GIL to see a pending Ctrl-C. The signal stays pending, so the per-transition check in
// progress_callback reports it too.
inline std::function<bool()> interrupt_check(bool& interrupted) {
  return [&interrupted]() {
    py::gil_scoped_acquire acquire;
    if (PyErr_CheckSignals() != 0) {
      PyErr_Clear();
      interrupted = true;
    }
    return interrupted;
  };
}

// The data pointer of an array the core writes into. Output arrays are never converted: a converted
// copy (another dtype, a strided view, a read-only array) would receive the draws and be thrown
// away, leaving the caller's array (an out= memory map) unwritten.
template <class V>
inline V* output_data(py::array a, const char* name) {
  const py::dtype want = py::dtype::of<V>();
  if (!a.dtype().equal(want))
    throw py::value_error(std::string(name) + ": expected an array of dtype " + py::str(want).cast<std::string>() +
                          ", got " + py::str(a.dtype()).cast<std::string>() + " (output arrays are written in place, never converted)");
  if (!(a.flags() & py::array::c_style)) throw py::value_error(std::string(name) + ": expected a C-contiguous array");
  if (!a.writeable()) throw py::value_error(std::string(name) + ": expected a writeable array");
  return static_cast<V*>(a.mutable_data());
}

// Hierarchical priors: where the sink stores every draw's precisions, an array (chains, capacity,
// groups) of float64 or None (then they are not stored).
template <class T>
inline void attach_precisions(DrawSink<T>& sink, py::object precisions, const Target<T>& target, std::size_t chains) {
  if (precisions.is_none()) return;
  if (!py::isinstance<py::array>(precisions)) throw py::type_error("precisions: expected a numpy array or None");
  auto a = py::reinterpret_borrow<py::array>(precisions);
  const std::size_t G = target.precision_groups().size();
  if (a.ndim() != 3 || std::size_t(a.shape(0)) != chains || std::size_t(a.shape(1)) != sink.capacity ||
      std::size_t(a.shape(2)) != G)
    throw py::value_error("precisions: expected shape (chains, capacity, groups)");
  sink.precisions = output_data<double>(a, "precisions");
  sink.groups = G;
}

}  // namespace convert
}  // namespace symhmc
