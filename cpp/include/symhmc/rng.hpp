// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011). A draw is a pure function of
// (seed, chain, iteration, purpose, index), so results cannot depend on threads or on the order in
// which chains are processed, and a resumed run draws exactly what the uninterrupted run would have.
#pragma once
#include <cstddef>
#include <cstdint>

namespace symhmc {

enum class Purpose : std::uint32_t {
  momentum = 1, accept = 2, step_jitter = 3, length_jitter = 4, swap = 5, init = 6,
  tree = 7,  // NUTS: directions of the doublings and the multinomial choices
  gibbs = 8,  // hierarchical priors: the precisions' conjugate draws (gibbs.hpp)
};

class Philox {
 public:
  explicit Philox(std::uint64_t seed) : k0_(std::uint32_t(seed)), k1_(std::uint32_t(seed >> 32)) {}

  // Four 32-bit words for counter (a, b, c, d).
  void block(std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t d, std::uint32_t out[4]) const {
    std::uint32_t x0 = a, x1 = b, x2 = c, x3 = d, k0 = k0_, k1 = k1_;
    for (int round = 0; round < 10; ++round) {
      const std::uint64_t p0 = std::uint64_t(0xD2511F53u) * x0;
      const std::uint64_t p1 = std::uint64_t(0xCD9E8D57u) * x2;
      const std::uint32_t y0 = std::uint32_t(p1 >> 32) ^ x1 ^ k0;
      const std::uint32_t y1 = std::uint32_t(p1);
      const std::uint32_t y2 = std::uint32_t(p0 >> 32) ^ x3 ^ k1;
      const std::uint32_t y3 = std::uint32_t(p0);
      x0 = y0, x1 = y1, x2 = y2, x3 = y3;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    out[0] = x0, out[1] = x1, out[2] = x2, out[3] = x3;
  }

 private:
  std::uint32_t k0_, k1_;
};

// The random stream of one (chain, iteration, purpose): uniforms and standard normals by index.
class Stream {
 public:
  Stream(const Philox& gen, std::uint64_t chain, std::uint64_t iteration, Purpose purpose)
      : gen_(gen), chain_(std::uint32_t(chain)),
        iter_lo_(std::uint32_t(iteration)),
        tag_(std::uint32_t(purpose) << 24 | (std::uint32_t(iteration >> 32) & 0xFFFFFFu)) {}

  // Uniform on (0, 1).
  double uniform(std::uint64_t i) const {
    std::uint32_t w[4];
    gen_.block(chain_, iter_lo_, tag_, std::uint32_t(i), w);
    return to_unit(w[0], w[1]);
  }
  // n standard normals from pairs first_pair, first_pair + 1, ... (Box-Muller, two per pair, through
  // the active SIMD kernel; a normal depends only on its index and the kernel).
  template <class T>
  void normals(T* out, std::size_t n, std::uint64_t first_pair) const {
    const double* z = normal_block(n, first_pair);
    for (std::size_t i = 0; i < n; ++i) out[i] = T(z[i]);
  }

 private:
  // The normals of pairs [first_pair, first_pair + ceil(n / 2)) in a per-thread buffer.
  const double* normal_block(std::size_t n, std::uint64_t first_pair) const;
  // (k + 1/2) / 2^52 for 52 random bits k: strictly inside (0, 1) and exact (k + 1/2 needs 53 bits).
  static double to_unit(std::uint32_t hi, std::uint32_t lo) {
    const std::uint64_t k = (std::uint64_t(hi) << 20) | (std::uint64_t(lo) >> 12);
    return (double(k) + 0.5) * (1.0 / 4503599627370496.0);
  }
  const Philox& gen_;
  std::uint32_t chain_, iter_lo_, tag_;
};

}  // namespace symhmc
