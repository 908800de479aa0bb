// The exact posterior symmetry group of an MLP and its canonical form.
//
// For every hidden layer l: permutations of its d_l units (columns of W_l, entries of b_l, rows of
// W_{l+1}), and, when the activation is odd, sign flips of single units (the same three slices
// negated). The group has prod_l d_l! (2^{d_l}) elements. A canonical representative of an orbit:
// for each hidden layer, first to last, fix the signs (odd activations: the unit's largest incoming
// weight made positive) and then sort the units by a key, ties broken by the bias and the incoming
// weights, so the map is deterministic, idempotent and exact (it only moves and negates numbers).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "symhmc/mlp_layout.hpp"

namespace symhmc {

enum class SortKey : int {
  bias = 0,            // b_l[j] (after the sign fix)
  first_incoming = 1,  // W_l[0, j] (after the sign fix)
  incoming_norm = 2,   // ||W_l[:, j]||
  outgoing_norm = 3,   // ||W_{l+1}[j, :]||
  slice_norm = 4,      // ||W_l[:, j]||^2 + b_l[j]^2 + ||W_{l+1}[j, :]||^2: the unit's whole weight
};

const char* sort_key_name(SortKey key);
bool sort_key_from_name(const std::string& name, SortKey* out);

// Applies to a draw, or to many: something that can map positions to canonical representatives.
template <class T>
class Symmetry {
 public:
  virtual ~Symmetry() = default;
  // x: K x dim, canonicalized in place.
  virtual void canonicalize(T* x, std::size_t K) const = 0;
};

template <class T>
class MlpSymmetry : public Symmetry<T> {
 public:
  MlpSymmetry(const MlpLayout& layout, SortKey key);
  void canonicalize(T* x, std::size_t K) const override;
  bool sign_flips() const { return sign_flips_; }
  // log of the group size: sum over hidden layers of log d_l! (+ d_l log 2 with sign flips).
  double log_group_size() const;

 private:
  void canonicalize_one(T* x, std::vector<std::size_t>& order, std::vector<T>& scratch) const;
  MlpLayout layout_;
  SortKey key_;
  bool sign_flips_;
};

// Odd activations give the sign-flip symmetry.
bool activation_is_odd(Activation a);

extern template class MlpSymmetry<double>;
extern template class MlpSymmetry<float>;

}  // namespace symhmc
