// NUTS as Stan's base_nuts (multinomial sampling, generalized U-turn criterion with the extra checks
// across merged subtrees), with the recursion of build_tree unrolled into a per-chain state machine so
// that the leaf steps of all chains still building go into one batched integrator call.
//
// A chain's machine. The top-level loop doubles the trajectory: a subtree of depth D = depth is built
// from one end. The subtree is a stack of frames, one per level d = 1 .. D (level 0 is a leaf, one
// integrator step). Frame d builds its "init" child (level d - 1), then its "final" child, then merges
// them (multinomial choice between their samples, U-turn checks) and reports to frame d + 1, or to the
// top level when d = D. Phase 0 / 1 says which child frame d is building. A leaf that completes walks
// up the stack until it reaches a frame that still has a final child to build (the chain needs another
// leaf) or the top level (the chain draws a new direction, or finishes).
//
// Arithmetic follows Stan: the momentum sum of a subtree is (sum of init) + (sum of final), starting
// from the leaves' momenta; log weights are summed by log_sum_exp the same way. Nothing in a chain's
// machine reads another chain, so a chain's draws do not depend on the batch.
//
// Storage per chain, allocated once: the proposals live in max_depth + 1 point slots (position,
// gradient, log density, energy). The top level owns `sample` and `propose`; frame d owns `fin[d]`,
// where its final child's proposal goes, and writes its own proposal to `out[d]` (the slot its parent
// gave it). Taking the final child's proposal swaps the slot indices instead of copying points.
#include "symhmc/nuts.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

namespace symhmc {
namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

// Stan's log_sum_exp(a, b).
double log_sum_exp(double a, double b) {
  if (a == -kInf) return b;
  if (a == kInf && b == kInf) return kInf;
  return a > b ? a + std::log1p(std::exp(b - a)) : b + std::log1p(std::exp(a - b));
}
}  // namespace

template <class T>
struct Nuts<T>::Chain {
  // What one transition of all chains shares.
  struct Context {
    Points<T>& z;             // the working points: every chain's end of the trajectory being extended
    std::vector<T>& p;        // their momenta
    double* signed_eps;       // +eps or -eps: the direction of the doubling
    const double* eps;
    const DiagonalMetric& metric;
    const Philox& rng;
    std::uint64_t iteration;
    double max_energy_error;
    TransitionRecord<T>& record;
  };

  std::size_t c, P;
  int max_depth;

  // Point slots: sample, propose, and one per level for the final child's proposal.
  std::vector<T> slot_q, slot_g, slot_logp;
  std::vector<double> slot_h;
  std::size_t sample = 0, propose = 1;
  // Frames, indexed by level d = 1 .. max_depth - 1 (index 0 unused).
  std::vector<std::size_t> out, fin;
  std::vector<unsigned char> phase;
  std::vector<double> lsw_init;   // log sum of weights of the init child
  std::vector<const T*> beg;      // the momentum at the first leaf of frame d
  std::vector<T> rho_init_;       // (max_depth - 1) x P: momentum sum of the init child, then of frame d
  std::vector<T> p_init_end_;     // momentum at the last leaf of the init child
  std::vector<T> p_final_beg_;    // momentum at the first leaf of the final child
  // The other end of the trajectory (the working end lives in Context::z and Context::p).
  std::vector<T> other_q, other_g, other_p;
  T other_logp = 0;
  std::vector<T> rho;      // momentum sum of the whole trajectory
  std::vector<T> new_beg;  // momentum at the first leaf of the subtree being built at the top level
  std::vector<T> adj;      // momentum at the end of the old trajectory the subtree grows from
  std::vector<T> scratch;
  T* beg_target = nullptr;  // where the next leaf stores its momentum, when it is the first of a subtree

  bool working_fwd = true, divergent = false;
  double H0 = 0, lsw = 0, sum_metro_prob = 0;
  std::uint32_t n_leapfrog = 0;
  int depth = 0, D = 0;
  std::uint64_t draws = 0;  // uniforms used from the tree stream

  Chain(std::size_t chain, std::size_t dim, int depth_limit)
      : c(chain), P(dim), max_depth(depth_limit),
        slot_q(std::size_t(depth_limit + 1) * dim), slot_g(std::size_t(depth_limit + 1) * dim),
        slot_logp(std::size_t(depth_limit + 1)), slot_h(std::size_t(depth_limit + 1)),
        out(std::size_t(depth_limit)), fin(std::size_t(depth_limit)), phase(std::size_t(depth_limit)),
        lsw_init(std::size_t(depth_limit)), beg(std::size_t(depth_limit)),
        rho_init_(std::size_t(depth_limit - 1) * dim), p_init_end_(std::size_t(depth_limit - 1) * dim),
        p_final_beg_(std::size_t(depth_limit - 1) * dim),
        other_q(dim), other_g(dim), other_p(dim), rho(dim), new_beg(dim), adj(dim), scratch(dim) {
    for (int d = 1; d < depth_limit; ++d) fin[std::size_t(d)] = std::size_t(d) + 1;
  }

  T* rho_init(int d) { return rho_init_.data() + std::size_t(d - 1) * P; }
  T* p_init_end(int d) { return p_init_end_.data() + std::size_t(d - 1) * P; }
  T* p_final_beg(int d) { return p_final_beg_.data() + std::size_t(d - 1) * P; }

  double uniform(const Context& x) { return Stream(x.rng, c, x.iteration, Purpose::tree).uniform(draws++); }

  // Stan's compute_criterion: both ends' velocities have a positive projection on rho.
  bool criterion(const Context& x, const T* p_a, const T* p_b, const T* r) const {
    return x.metric.dot_inverse(c, p_b, r) > 0 && x.metric.dot_inverse(c, p_a, r) > 0;
  }

  void store_working(const Context& x, std::size_t s, double h) {
    std::copy_n(x.z.position(c), P, slot_q.data() + s * P);
    std::copy_n(x.z.gradient(c), P, slot_g.data() + s * P);
    slot_logp[s] = x.z.logp[c];
    slot_h[s] = h;
  }

  // Starts the transition: fresh momentum, the trajectory is the single starting point.
  void begin(Context& x) {
    T* p = x.p.data() + c * P;
    x.metric.draw_momentum(Stream(x.rng, c, x.iteration, Purpose::momentum), c, p);
    H0 = -double(x.z.logp[c]) + x.metric.kinetic(c, p);
    std::copy_n(x.z.position(c), P, other_q.data());
    std::copy_n(x.z.gradient(c), P, other_g.data());
    std::copy_n(p, P, other_p.data());
    other_logp = x.z.logp[c];
    sample = 0, propose = 1;
    for (int d = 1; d < max_depth; ++d) fin[std::size_t(d)] = std::size_t(d) + 1;
    store_working(x, sample, H0);
    std::copy_n(p, P, rho.data());
    lsw = 0, sum_metro_prob = 0, n_leapfrog = 0, depth = 0, divergent = false, draws = 0, working_fwd = true;
    start_doubling(x);
  }

  // Picks a direction and sets up the frames of a subtree of depth `depth` from that end.
  void start_doubling(Context& x) {
    const bool forward = uniform(x) > 0.5;
    if (forward != working_fwd) {  // continue from the other end
      std::swap_ranges(other_q.begin(), other_q.end(), x.z.position(c));
      std::swap_ranges(other_g.begin(), other_g.end(), x.z.gradient(c));
      std::swap_ranges(other_p.begin(), other_p.end(), x.p.begin() + std::ptrdiff_t(c * P));
      std::swap(other_logp, x.z.logp[c]);
      working_fwd = forward;
    }
    x.signed_eps[c] = forward ? x.eps[c] : -x.eps[c];
    std::copy_n(x.p.data() + c * P, P, adj.data());
    beg_target = new_beg.data();
    D = depth;
    for (int d = D; d >= 1; --d) {
      phase[std::size_t(d)] = 0;
      out[std::size_t(d)] = d == D ? propose : out[std::size_t(d) + 1];
      beg[std::size_t(d)] = new_beg.data();
    }
  }

  // After the integrator moved this chain by one step: the leaf, and every frame it completes.
  // Returns true when the chain needs another step, false when its transition is done.
  bool after_step(Context& x) {
    const T* p = x.p.data() + c * P;
    ++n_leapfrog;
    double h = -double(x.z.logp[c]) + x.metric.kinetic(c, p);
    if (!std::isfinite(h)) h = kInf;
    if (h - H0 > x.max_energy_error || h == kInf) divergent = true;
    const double w = H0 - h;
    sum_metro_prob += w > 0 ? 1 : std::exp(w);
    if (beg_target) {
      std::copy_n(p, P, beg_target);
      beg_target = nullptr;
    }
    if (divergent) return finish(x);
    store_working(x, D == 0 ? propose : (phase[1] == 0 ? out[1] : fin[1]), h);

    // The completed subtree: its log weight and momentum sum; walk up the frames.
    double lsw_sub = w;
    const T* rho_sub = p;
    for (int lvl = 0; lvl < D; ++lvl) {
      const int d = lvl + 1;
      const std::size_t k = std::size_t(d);
      if (phase[k] == 0) {  // the init child is done: build the final child from here
        lsw_init[k] = lsw_sub;
        std::copy_n(rho_sub, P, rho_init(d));
        std::copy_n(p, P, p_init_end(d));
        phase[k] = 1;
        beg_target = p_final_beg(d);
        for (int e = d - 1; e >= 1; --e) {
          phase[std::size_t(e)] = 0;
          out[std::size_t(e)] = e == d - 1 ? fin[k] : out[std::size_t(e) + 1];
          beg[std::size_t(e)] = p_final_beg(d);
        }
        return true;
      }
      // Both children done: multinomial choice between them (Stan: uniform, not biased).
      const double lsw_final = lsw_sub, lsw_tree = log_sum_exp(lsw_init[k], lsw_final);
      bool take = lsw_final > lsw_tree;
      if (!take) take = uniform(x) < std::exp(lsw_final - lsw_tree);
      if (take) std::swap(out[k], fin[k]);
      if (d == D)
        propose = out[k];
      else if (phase[k + 1] == 0)
        out[k + 1] = out[k];
      else
        fin[k + 1] = out[k];
      // The U-turn checks: across the merged subtree and across the join of its two halves.
      T* r = rho_init(d);
      const T* pb = beg[k];
      const T* pie = p_init_end(d);
      const T* pfb = p_final_beg(d);
      for (std::size_t i = 0; i < P; ++i) scratch[i] = r[i] + pfb[i];
      bool persist = criterion(x, pb, pfb, scratch.data());
      for (std::size_t i = 0; i < P; ++i) scratch[i] = rho_sub[i] + pie[i];
      persist = persist && criterion(x, pie, p, scratch.data());
      for (std::size_t i = 0; i < P; ++i) r[i] += rho_sub[i];  // now the sum of the merged subtree
      persist = persist && criterion(x, pb, p, r);
      if (!persist) return finish(x);
      lsw_sub = lsw_tree;
      rho_sub = r;
    }

    // The top-level subtree is complete and valid: biased progressive sampling, then the checks.
    ++depth;
    bool take = lsw_sub > lsw;
    if (!take) take = uniform(x) < std::exp(lsw_sub - lsw);
    if (take) std::swap(sample, propose);
    lsw = log_sum_exp(lsw, lsw_sub);
    // Whichever the direction: (far end of old, first of new) over rho_old + first of new; (last of
    // old, far end of new) over rho_new + last of old; (both ends) over the whole trajectory.
    for (std::size_t i = 0; i < P; ++i) scratch[i] = rho[i] + new_beg[i];
    bool persist = criterion(x, other_p.data(), new_beg.data(), scratch.data());
    for (std::size_t i = 0; i < P; ++i) scratch[i] = rho_sub[i] + adj[i];
    persist = persist && criterion(x, adj.data(), p, scratch.data());
    for (std::size_t i = 0; i < P; ++i) rho[i] += rho_sub[i];
    persist = persist && criterion(x, other_p.data(), p, rho.data());
    if (!persist || depth >= max_depth) return finish(x);
    start_doubling(x);
    return true;
  }

  bool finish(Context& x) {
    std::copy_n(slot_q.data() + sample * P, P, x.z.position(c));
    std::copy_n(slot_g.data() + sample * P, P, x.z.gradient(c));
    x.z.logp[c] = slot_logp[sample];
    TransitionInfo& info = x.record.info[c];
    info.accept_prob = sum_metro_prob / double(n_leapfrog);
    info.energy = slot_h[sample];
    info.step_size = x.eps[c];
    info.n_steps = n_leapfrog;
    info.tree_depth = std::uint32_t(depth);
    info.diverging = divergent;
    return false;
  }
};

template <class T>
Nuts<T>::Nuts(std::size_t chains, std::size_t dim, int max_depth, double max_energy_error)
    : chains_(chains), dim_(dim), max_depth_(max_depth), max_energy_error_(max_energy_error),
      p_(chains * dim), signed_eps_(chains) {
  if (max_depth < 1) throw std::invalid_argument("max_tree_depth: must be at least 1");
  trees_.reserve(chains);
  for (std::size_t c = 0; c < chains; ++c) trees_.emplace_back(c, dim, max_depth);
  active_.reserve(chains);
}

template <class T>
Nuts<T>::~Nuts() = default;

template <class T>
bool Nuts<T>::transition(Points<T>& z, const DiagonalMetric& metric, const double* eps, const Philox& rng,
                         std::uint64_t iteration, Integrator<T>& integrator, TransitionRecord<T>& record,
                         StopCheck* stop) {
  const std::size_t C = chains_, P = dim_;
  if (z.chains != C || z.dim != P) throw std::invalid_argument("nuts: points do not match the sampler");
  if (record.info.size() != C || record.start.size() != C * P) record.resize(C, P);
  std::copy(z.q.begin(), z.q.end(), record.start.begin());
  if (stop) start_ = z;  // the trees move z in place
  typename Chain::Context x{z, p_, signed_eps_.data(), eps, metric, rng, iteration, max_energy_error_, record};
  active_.clear();
  for (std::size_t c = 0; c < C; ++c) {
    trees_[c].begin(x);
    active_.push_back(c);
  }
  while (!active_.empty()) {
    if (stop && (*stop)()) {
      z = start_;
      return false;
    }
    integrator.step(z, p_, metric, signed_eps_.data(), active_);
    std::size_t kept = 0;
    for (std::size_t i = 0; i < active_.size(); ++i)
      if (trees_[active_[i]].after_step(x)) active_[kept++] = active_[i];
    active_.resize(kept);
  }
  return true;
}

template class Nuts<double>;
template class Nuts<float>;

}  // namespace symhmc
