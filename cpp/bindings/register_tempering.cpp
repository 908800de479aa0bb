#include "pybind11.hpp"

#include "hmc_convert.hpp"
#include "symhmc/tempering.hpp"

namespace {
using namespace symhmc;
using namespace symhmc::convert;

py::dict tempering_to_dict(const TemperingState& s) {
  const py::ssize_t C = py::ssize_t(s.chains), R = py::ssize_t(s.replicas);
  py::dict d;
  d["chains"] = s.chains;
  d["replicas"] = s.replicas;
  d["betas"] = to_array(s.betas, {R});
  d["replica_at"] = to_array(s.replica_at, {C, R});
  d["trip"] = to_array(s.trip, {C, R});
  d["round_trips"] = to_array(s.round_trips, {C});
  d["reject_sum"] = to_array(s.reject_sum, {R - 1});
  d["reject_count"] = s.reject_count;
  d["accept_sum"] = to_array(s.accept_sum, {R - 1});
  d["accept_count"] = s.accept_count;
  return d;
}

TemperingState tempering_from_dict(const py::dict& d) {
  TemperingState s;
  s.chains = py::cast<std::size_t>(d["chains"]);
  s.replicas = py::cast<std::size_t>(d["replicas"]);
  const std::size_t C = s.chains, R = s.replicas;
  if (R < 2) throw py::value_error("n_replicas: need at least 2 replicas");
  s.betas = from_array<double>(d, "betas", R);
  s.replica_at = from_array<std::int64_t>(d, "replica_at", C * R);
  s.trip = from_array<std::int8_t>(d, "trip", C * R);
  s.round_trips = from_array<std::int64_t>(d, "round_trips", C);
  s.reject_sum = from_array<double>(d, "reject_sum", R - 1);
  s.reject_count = py::cast<double>(d["reject_count"]);
  s.accept_sum = from_array<double>(d, "accept_sum", R - 1);
  s.accept_count = py::cast<double>(d["accept_count"]);
  return s;
}

template <class T>
py::dict run_tempering(const Target<T>& target, const py::dict& hmc_state, const py::dict& tempering_state,
                       const py::dict& settings_in, bool adapt_schedule, bool reversible, std::size_t n_transitions,
                       std::size_t thin, py::array draws, py::array stats, py::object draws_all,
                       py::array trace, std::size_t trace_written, py::object progress,
                       const Symmetry<T>* symmetry, py::object precisions) {
  TemperingState ts = tempering_from_dict(tempering_state);
  HmcState hs = state_from_dict(hmc_state);
  const HmcSettings hmc_settings = settings_from_dict(settings_in);
  TemperingSettings settings;
  settings.adapt_schedule = adapt_schedule;
  settings.reversible = reversible;
  const std::size_t C = ts.chains, R = ts.replicas, P = hs.dim;
  if (draws.ndim() != 3 || std::size_t(draws.shape(0)) != C || std::size_t(draws.shape(2)) != P)
    throw py::value_error("draws: expected shape (chains, capacity, dim)");
  if (stats.ndim() != 2 || stats.shape(0) != draws.shape(0) || stats.shape(1) != draws.shape(1))
    throw py::value_error("stats: expected shape (chains, capacity)");
  if (trace.ndim() != 3 || std::size_t(trace.shape(0)) != C || std::size_t(trace.shape(2)) != R)
    throw py::value_error("trace: expected shape (chains, capacity, replicas)");
  T* all = nullptr;
  if (!draws_all.is_none()) {
    if (!py::isinstance<py::array>(draws_all)) throw py::type_error("draws_all: expected a numpy array or None");
    auto a = py::reinterpret_borrow<py::array>(draws_all);
    if (a.ndim() != 4 || a.shape(0) != draws.shape(0) || a.shape(1) != draws.shape(1) ||
        std::size_t(a.shape(2)) != R || std::size_t(a.shape(3)) != P)
      throw py::value_error("draws_all: expected shape (chains, capacity, replicas, dim)");
    all = output_data<T>(a, "draws_all");
  }
  DrawSink<T> sink;
  sink.draws = output_data<T>(draws, "draws");
  sink.stats = output_data<DrawStats>(stats, "stats");
  sink.capacity = std::size_t(draws.shape(1));
  attach_precisions(sink, precisions, target, C);
  bool interrupted = false;
  std::size_t done = 0;
  py::dict out;
  {
    TemperingSampler<T> sampler(target, hmc_settings, std::move(hs), settings, std::move(ts), symmetry);
    double* tr = output_data<double>(trace, "trace");
    const std::size_t trace_capacity = std::size_t(trace.shape(1));
    py::gil_scoped_release release;
    done = sampler.run(n_transitions, thin, sink, all, tr, trace_capacity, &trace_written,
                       progress_callback(progress, interrupted), interrupt_check(interrupted));
    py::gil_scoped_acquire acquire;
    out["hmc_state"] = state_to_dict(sampler.hmc().state());
    out["tempering_state"] = tempering_to_dict(sampler.state());
    out["gradient_seconds"] = sampler.hmc().integrator().gradient_seconds();
    out["gradient_evaluations"] = sampler.hmc().integrator().gradient_evaluations();
  }
  out["transitions"] = done;
  out["written"] = sink.written;
  out["trace_written"] = trace_written;
  out["interrupted"] = interrupted;
  return out;
}
}  // namespace

void register_tempering(py::module_& m) {
  m.def("equal_barrier_schedule", &equal_barrier_schedule, py::arg("betas"), py::arg("rejection"), py::arg("n"));
  m.def(
      "initial_tempering_state",
      [](std::size_t chains, std::vector<double> betas) {
        return tempering_to_dict(TemperingSampler<double>::initial_state(chains, std::move(betas)));
      },
      py::arg("chains"), py::arg("betas"));
  {
    const char* name = "run_tempering";
    m.def(name, &run_tempering<double>, py::arg("target"), py::arg("hmc_state"), py::arg("tempering_state"),
          py::arg("settings"), py::arg("adapt_schedule"), py::arg("reversible"), py::arg("n_transitions"),
          py::arg("thin"), py::arg("draws"), py::arg("stats"), py::arg("draws_all").none(true), py::arg("trace"),
          py::arg("trace_written"), py::arg("progress"), py::arg("symmetry").none(true),
          py::arg("precisions") = py::none());
    m.def(name, &run_tempering<float>, py::arg("target"), py::arg("hmc_state"), py::arg("tempering_state"),
          py::arg("settings"), py::arg("adapt_schedule"), py::arg("reversible"), py::arg("n_transitions"),
          py::arg("thin"), py::arg("draws"), py::arg("stats"), py::arg("draws_all").none(true), py::arg("trace"),
          py::arg("trace_written"), py::arg("progress"), py::arg("symmetry").none(true),
          py::arg("precisions") = py::none());
  }
}
