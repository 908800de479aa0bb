#include "symhmc/symmetry.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace symhmc {

const char* sort_key_name(SortKey key) {
  switch (key) {
    case SortKey::bias: return "bias";
    case SortKey::first_incoming: return "first_incoming";
    case SortKey::incoming_norm: return "incoming_norm";
    case SortKey::outgoing_norm: return "outgoing_norm";
    case SortKey::slice_norm: return "slice_norm";
  }
  return "unknown";
}

bool sort_key_from_name(const std::string& name, SortKey* out) {
  for (SortKey k : {SortKey::bias, SortKey::first_incoming, SortKey::incoming_norm, SortKey::outgoing_norm,
                    SortKey::slice_norm})
    if (name == sort_key_name(k)) {
      *out = k;
      return true;
    }
  return false;
}

bool activation_is_odd(Activation a) { return a == Activation::tanh || a == Activation::identity; }

template <class T>
MlpSymmetry<T>::MlpSymmetry(const MlpLayout& layout, SortKey key)
    : layout_(layout), key_(key), sign_flips_(activation_is_odd(layout.activation)) {}

template <class T>
double MlpSymmetry<T>::log_group_size() const {
  double s = 0;
  for (int l = 1; l < layout_.n_layers; ++l) {
    const int d = layout_.sizes[l];
    s += std::lgamma(double(d) + 1.0);
    if (sign_flips_) s += double(d) * std::log(2.0);
  }
  return s;
}

template <class T>
void MlpSymmetry<T>::canonicalize(T* x, std::size_t K) const {
  thread_local std::vector<std::size_t> order;  // reused: the sampler calls this for every stored draw
  thread_local std::vector<T> scratch;
  for (std::size_t k = 0; k < K; ++k) canonicalize_one(x + k * std::size_t(layout_.n_params), order, scratch);
}

template <class T>
void MlpSymmetry<T>::canonicalize_one(T* x, std::vector<std::size_t>& order, std::vector<T>& scratch) const {
  const MlpLayout& L = layout_;
  for (int l = 1; l < L.n_layers; ++l) {
    const std::size_t din = std::size_t(L.sizes[l - 1]), d = std::size_t(L.sizes[l]),
                      dout = std::size_t(L.sizes[l + 1]);
    T* W = x + L.w_offset[l - 1];      // din x d
    T* b = x + L.b_offset[l - 1];      // d
    T* V = x + L.w_offset[l];          // d x dout
    auto incoming = [&](std::size_t j, std::size_t i) { return W[i * d + j]; };
    auto outgoing = [&](std::size_t j, std::size_t k) { return V[j * dout + k]; };

    if (sign_flips_)
      for (std::size_t j = 0; j < d; ++j) {
        // The unit's sign: that of its largest incoming weight (first one on ties), else of its bias.
        // Only incoming quantities are used: later layers never change them, so the result is
        // idempotent; and a unit that matters has some large incoming weight, far from the boundary.
        T s = 0, top = 0;
        for (std::size_t i = 0; i < din; ++i)
          if (std::fabs(incoming(j, i)) > top) top = std::fabs(s = incoming(j, i));
        if (s == T(0)) s = b[j];
        if (s < T(0)) {
          for (std::size_t i = 0; i < din; ++i) W[i * d + j] = -W[i * d + j];
          b[j] = -b[j];
          for (std::size_t k = 0; k < dout; ++k) V[j * dout + k] = -V[j * dout + k];
        }
      }

    // Order: key, then bias, then incoming weights. Outgoing weights are left out of the tie-break
    // because later layers permute and negate them; exact ties keep their order (stable sort).
    scratch.assign(d, T(0));
    for (std::size_t j = 0; j < d; ++j) {
      T key = 0;
      switch (key_) {
        case SortKey::bias: key = b[j]; break;
        case SortKey::first_incoming: key = incoming(j, 0); break;
        case SortKey::incoming_norm:
          for (std::size_t i = 0; i < din; ++i) key += incoming(j, i) * incoming(j, i);
          break;
        case SortKey::outgoing_norm:
          for (std::size_t k = 0; k < dout; ++k) key += outgoing(j, k) * outgoing(j, k);
          break;
        case SortKey::slice_norm:
          key = b[j] * b[j];
          for (std::size_t i = 0; i < din; ++i) key += incoming(j, i) * incoming(j, i);
          for (std::size_t k = 0; k < dout; ++k) key += outgoing(j, k) * outgoing(j, k);
          break;
      }
      scratch[j] = key;
    }
    bool finite = true;
    for (std::size_t j = 0; j < d; ++j) finite = finite && std::isfinite(double(scratch[j])) && std::isfinite(double(b[j]));
    if (!finite) continue;  // never sort NaNs (no strict weak order); such a draw is not a posterior draw
    order.resize(d);
    std::iota(order.begin(), order.end(), std::size_t(0));
    auto before = [&](std::size_t a, std::size_t c) {
      if (scratch[a] != scratch[c]) return scratch[a] < scratch[c];
      if (b[a] != b[c]) return b[a] < b[c];
      for (std::size_t i = 0; i < din; ++i)
        if (incoming(a, i) != incoming(c, i)) return incoming(a, i) < incoming(c, i);
      return false;
    };
    // Insertion sort: stable, allocation-free, and linear on the nearly sorted units of successive
    // draws of one chain.
    for (std::size_t j = 1; j < d; ++j) {
      const std::size_t u = order[j];
      std::size_t k = j;
      for (; k > 0 && before(u, order[k - 1]); --k) order[k] = order[k - 1];
      order[k] = u;
    }
    bool identity = true;
    for (std::size_t j = 0; j < d && identity; ++j) identity = order[j] == j;
    if (identity) continue;
    // Gather the permuted slices.
    thread_local std::vector<T> tmp;
    tmp.resize(std::max(din * d, d * dout));
    for (std::size_t i = 0; i < din; ++i)
      for (std::size_t j = 0; j < d; ++j) tmp[i * d + j] = W[i * d + order[j]];
    std::copy(tmp.begin(), tmp.begin() + din * d, W);
    for (std::size_t j = 0; j < d; ++j) tmp[j] = b[order[j]];
    std::copy(tmp.begin(), tmp.begin() + d, b);
    for (std::size_t j = 0; j < d; ++j)
      for (std::size_t k = 0; k < dout; ++k) tmp[j * dout + k] = V[order[j] * dout + k];
    std::copy(tmp.begin(), tmp.begin() + d * dout, V);
  }
}

template class MlpSymmetry<double>;
template class MlpSymmetry<float>;

}  // namespace symhmc
