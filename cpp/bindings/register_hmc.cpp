#include "pybind11.hpp"

#include "symhmc/analytic.hpp"
#include "symhmc/hmc.hpp"

namespace {
using namespace symhmc;

template <class V>
py::array_t<V> to_array(const std::vector<V>& v, std::vector<py::ssize_t> shape) {
  py::array_t<V> a(shape);
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

template <class V>
std::vector<V> from_array(const py::dict& d, const char* key, std::size_t n) {
  if (!d.contains(key)) throw py::value_error(std::string("state: missing '") + key + "'");
  auto a = py::cast<carray<V>>(d[key]);
  if (std::size_t(a.size()) != n) throw py::value_error(std::string("state: '") + key + "' has the wrong size");
  return std::vector<V>(a.data(), a.data() + n);
}

py::dict state_to_dict(const HmcState& s) {
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

HmcState state_from_dict(const py::dict& d) {
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

HmcSettings settings_from_dict(const py::dict& d) {
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

// Runs HMC with the GIL released; every transition briefly takes the GIL back to honour Ctrl-C and to
// report progress.
template <class T>
py::dict run_hmc(const Target<T>& target, const py::dict& state_in, const py::dict& settings_in,
                 std::size_t n_transitions, std::size_t thin, py::array_t<T> draws,
                 py::array_t<DrawStats> stats, std::size_t written, py::object progress,
                 const Symmetry<T>* symmetry) {
  HmcState state = state_from_dict(state_in);
  const HmcSettings settings = settings_from_dict(settings_in);
  if (draws.ndim() != 3 || std::size_t(draws.shape(0)) != state.chains || std::size_t(draws.shape(2)) != state.dim)
    throw py::value_error("draws: expected shape (chains, capacity, dim)");
  if (stats.ndim() != 2 || stats.shape(0) != draws.shape(0) || stats.shape(1) != draws.shape(1))
    throw py::value_error("stats: expected shape (chains, capacity)");
  if (!(draws.flags() & py::array::c_style) || !(stats.flags() & py::array::c_style) || !draws.writeable() ||
      !stats.writeable())
    throw py::value_error("draws: output arrays must be writeable and C-contiguous");
  DrawSink<T> sink;
  sink.draws = draws.mutable_data();
  sink.stats = stats.mutable_data();
  sink.capacity = std::size_t(draws.shape(1));
  sink.written = written;
  bool interrupted = false;
  std::size_t done = 0;
  py::dict out;
  {
    HmcSampler<T> sampler(target, settings, std::move(state), symmetry);
    py::gil_scoped_release release;
    auto callback = [&](std::size_t n) {
      py::gil_scoped_acquire acquire;
      if (PyErr_CheckSignals() != 0) {  // Ctrl-C: stop cleanly, keep what was drawn
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
    done = sampler.run(n_transitions, thin, sink, callback);
    py::gil_scoped_acquire acquire;
    out["state"] = state_to_dict(sampler.state());
    out["divergences"] = sampler.divergences();
    out["gradient_seconds"] = sampler.gradient_seconds();
    out["gradient_evaluations"] = sampler.gradient_evaluations();
  }
  out["transitions"] = done;
  out["written"] = sink.written;
  out["interrupted"] = interrupted;
  return out;
}

}  // namespace

void register_hmc(py::module_& m) {
  PYBIND11_NUMPY_DTYPE(DrawStats, accept_prob, step_size, logp, energy, n_steps, diverging);
  m.def("draw_stats_dtype", [] { return py::dtype::of<DrawStats>(); });
  m.def("run_hmc", &run_hmc<double>, py::arg("target"), py::arg("state"), py::arg("settings"),
        py::arg("n_transitions"), py::arg("thin"), py::arg("draws"), py::arg("stats"), py::arg("written"),
        py::arg("progress"), py::arg("symmetry").none(true));
  m.def("run_hmc", &run_hmc<float>, py::arg("target"), py::arg("state"), py::arg("settings"),
        py::arg("n_transitions"), py::arg("thin"), py::arg("draws"), py::arg("stats"), py::arg("written"),
        py::arg("progress"), py::arg("symmetry").none(true));
  m.def(
      "initial_state",
      [](std::size_t chains, std::size_t dim, std::uint64_t seed, std::uint64_t warmup, carray<double> init) {
        if (std::size_t(init.size()) != chains * dim) throw py::value_error("init: expected shape (chains, dim)");
        return state_to_dict(HmcSampler<double>::initial_state(chains, dim, seed, warmup, init.data()));
      },
      py::arg("chains"), py::arg("dim"), py::arg("seed"), py::arg("warmup"), py::arg("init"));
}
