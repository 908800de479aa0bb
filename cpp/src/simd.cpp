#include "symhmc/simd.hpp"

#include <atomic>
#include <cstdlib>

namespace symhmc {
namespace {

bool cpu_has(Isa isa) {
  switch (isa) {
    case Isa::scalar:
      return true;
#if defined(SYMHMC_HAVE_X86_KERNELS)
    case Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
#endif
    default:
      return false;
  }
}

std::atomic<int>& active_slot() {
  static std::atomic<int> slot{static_cast<int>(best_isa())};
  return slot;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "unknown";
}

bool isa_from_name(const std::string& name, Isa* out) {
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512})
    if (name == isa_name(isa)) {
      *out = isa;
      return true;
    }
  return false;
}

std::vector<Isa> compiled_isas() {
#if defined(SYMHMC_HAVE_X86_KERNELS)
  return {Isa::scalar, Isa::avx2, Isa::avx512};
#else
  return {Isa::scalar};
#endif
}

bool isa_supported(Isa isa) {
  for (Isa c : compiled_isas())
    if (c == isa) return cpu_has(isa);
  return false;
}

Isa best_isa() {
  for (Isa isa : {Isa::avx512, Isa::avx2})
    if (isa_supported(isa)) return isa;
  return Isa::scalar;
}

Isa active_isa() { return static_cast<Isa>(active_slot().load()); }

bool set_active_isa(Isa isa) {
  if (!isa_supported(isa)) return false;
  active_slot().store(static_cast<int>(isa));
  return true;
}

}  // namespace symhmc
