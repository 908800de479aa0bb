#include "pybind11.hpp"

#include "symhmc/analytic.hpp"
#include "symhmc/hmc.hpp"
#include "hmc_convert.hpp"
#include "symhmc/gibbs.hpp"

namespace {
using namespace symhmc;
using namespace symhmc::convert;

// Runs HMC with the GIL released; every transition briefly takes the GIL back to honour Ctrl-C and to
// report progress, and a long transition does so every ~20 ms. draws and stats are written in place.
template <class T>
py::dict run_hmc(const Target<T>& target, const py::dict& state_in, const py::dict& settings_in,
                 std::size_t n_transitions, std::size_t thin, py::array draws,
                 py::array stats, std::size_t written, py::object progress,
                 const Symmetry<T>* symmetry, py::object precisions) {
  HmcState state = state_from_dict(state_in);
  const HmcSettings settings = settings_from_dict(settings_in);
  if (draws.ndim() != 3 || std::size_t(draws.shape(0)) != state.chains || std::size_t(draws.shape(2)) != state.dim)
    throw py::value_error("draws: expected shape (chains, capacity, dim)");
  if (stats.ndim() != 2 || stats.shape(0) != draws.shape(0) || stats.shape(1) != draws.shape(1))
    throw py::value_error("stats: expected shape (chains, capacity)");
  DrawSink<T> sink;
  sink.draws = output_data<T>(draws, "draws");
  sink.stats = output_data<DrawStats>(stats, "stats");
  sink.capacity = std::size_t(draws.shape(1));
  sink.written = written;
  attach_precisions(sink, precisions, target, state.chains);
  bool interrupted = false;
  std::size_t done = 0;
  py::dict out;
  {
    HmcSampler<T> sampler(target, settings, std::move(state), symmetry);
    py::gil_scoped_release release;
    auto callback = progress_callback(progress, interrupted);
    done = sampler.run(n_transitions, thin, sink, callback, interrupt_check(interrupted));
    py::gil_scoped_acquire acquire;
    out["state"] = state_to_dict(sampler.state());
    out["divergences"] = sampler.divergences();
    out["gradient_seconds"] = sampler.integrator().gradient_seconds();
    out["gradient_evaluations"] = sampler.integrator().gradient_evaluations();
  }
  out["transitions"] = done;
  out["written"] = sink.written;
  out["interrupted"] = interrupted;
  return out;
}

}  // namespace

void register_hmc(py::module_& m) {
  PYBIND11_NUMPY_DTYPE(DrawStats, accept_prob, step_size, logp, energy, trajectory_length, n_steps, tree_depth,
                       diverging);
  m.def("draw_stats_dtype", [] { return py::dtype::of<DrawStats>(); });
  m.def("run_hmc", &run_hmc<double>, py::arg("target"), py::arg("state"), py::arg("settings"),
        py::arg("n_transitions"), py::arg("thin"), py::arg("draws"), py::arg("stats"), py::arg("written"),
        py::arg("progress"), py::arg("symmetry").none(true), py::arg("precisions") = py::none());
  m.def("run_hmc", &run_hmc<float>, py::arg("target"), py::arg("state"), py::arg("settings"),
        py::arg("n_transitions"), py::arg("thin"), py::arg("draws"), py::arg("stats"), py::arg("written"),
        py::arg("progress"), py::arg("symmetry").none(true), py::arg("precisions") = py::none());
  m.def(
      "initial_state",
      [](std::size_t chains, std::size_t dim, std::uint64_t seed, std::uint64_t warmup, carray<double> init) {
        if (std::size_t(init.size()) != chains * dim) throw py::value_error("init: expected shape (chains, dim)");
        return state_to_dict(HmcSampler<double>::initial_state(chains, dim, seed, warmup, init.data()));
      },
      py::arg("chains"), py::arg("dim"), py::arg("seed"), py::arg("warmup"), py::arg("init"));
  // n Gibbs draws of the precisions of groups [(begin, count, shape, rate), ...] given a fixed x, at
  // iterations 0 .. n-1 of one chain: the tests compare them with the Gamma conditional.
  m.def(
      "_gibbs_draws",
      [](std::vector<std::tuple<std::int64_t, std::int64_t, double, double>> spec, carray<double> x,
         std::uint64_t seed, std::uint64_t chain, std::size_t n) {
        std::vector<PrecisionGroup> groups;
        for (const auto& g : spec) groups.push_back({std::get<0>(g), std::get<1>(g), std::get<2>(g), std::get<3>(g)});
        check_precision_groups(groups, x.size());
        const std::size_t G = groups.size();
        py::array_t<double> out({n, G});
        std::vector<double> grad(std::size_t(x.size()), 0.0);
        std::vector<double> tau(G, 1.0);
        const Philox gen(seed);
        for (std::size_t i = 0; i < n; ++i) {
          double logp = 0;
          gibbs_precisions(groups, x.data(), Stream(gen, chain, i, Purpose::gibbs), tau.data(), &logp, grad.data());
          std::copy(tau.begin(), tau.end(), out.mutable_data() + i * G);
        }
        return out;
      },
      py::arg("groups"), py::arg("x"), py::arg("seed"), py::arg("chain"), py::arg("n"));
  // The momentum normals of one (chain, iteration), for the tests of the generator.
  m.def(
      "_momentum_normals",
      [](std::uint64_t seed, std::uint64_t chain, std::uint64_t iteration, std::size_t n) {
        py::array_t<double> out(n);
        const Philox gen(seed);
        Stream(gen, chain, iteration, Purpose::momentum).normals(out.mutable_data(), n, 0);
        return out;
      },
      py::arg("seed"), py::arg("chain"), py::arg("iteration"), py::arg("n"));
}
