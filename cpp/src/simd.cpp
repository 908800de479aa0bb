#include "symhmc/simd.hpp"

#include <atomic>
#include <cstdlib>

#if defined(SYMHMC_HAVE_X86_KERNELS)
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif
#if defined(SYMHMC_HAVE_NEON_KERNELS) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace symhmc {
namespace {

#if defined(SYMHMC_HAVE_X86_KERNELS)
// CPUID and XGETBV asked directly: __builtin_cpu_supports needs compiler-rt's __cpu_model, which
// clang-cl does not link on Windows. A feature counts only if the OS also saves its registers (XCR0).
struct X86Features {
  bool avx2 = false, fma = false, avx512f = false, avx512dq = false, avx512vl = false;
  X86Features() {
    unsigned r1[4], r7[4];
    if (!cpuid(0, 0, r1) || r1[0] < 7) return;
    cpuid(1, 0, r1);
    cpuid(7, 0, r7);
    const bool osxsave = (r1[2] >> 27) & 1;
    const unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    const bool ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xe6) == 0xe6;  // SSE+AVX; + opmask, ZMM
    const bool avx = ((r1[2] >> 28) & 1) && ymm;
    fma = avx && ((r1[2] >> 12) & 1);
    avx2 = avx && ((r7[1] >> 5) & 1);
    avx512f = zmm && ((r7[1] >> 16) & 1);
    avx512dq = zmm && ((r7[1] >> 17) & 1);
    avx512vl = zmm && ((r7[1] >> 31) & 1);
  }
  static bool cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {  // r = eax, ebx, ecx, edx
#if defined(_MSC_VER)
    int v[4];
    __cpuidex(v, int(leaf), int(sub));
    for (int i = 0; i < 4; ++i) r[i] = unsigned(v[i]);
    return true;
#else
    return __get_cpuid_count(leaf, sub, &r[0], &r[1], &r[2], &r[3]) != 0;
#endif
  }
  static unsigned long long xgetbv0() {
#if defined(__GNUC__) || defined(__clang__)  // clang-cl included: GNU inline assembly needs no xsave flag
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<unsigned long long>(hi) << 32) | lo;
#else
    return _xgetbv(0);
#endif
  }
};
const X86Features& x86() {
  static const X86Features f;
  return f;
}
#endif

#if defined(SYMHMC_HAVE_NEON_KERNELS)
bool cpu_has_neon() {
#if defined(__linux__)
  return (getauxval(AT_HWCAP) >> 1) & 1;  // HWCAP_ASIMD
#else
  return true;  // Apple arm64 and Windows on ARM: part of the base instruction set
#endif
}
#endif

bool cpu_has(Isa isa) {
  switch (isa) {
    case Isa::scalar:
      return true;
#if defined(SYMHMC_HAVE_X86_KERNELS)
    case Isa::avx2:
      return x86().avx2 && x86().fma;
    case Isa::avx512:
      return x86().avx512f && x86().avx512dq && x86().avx512vl && x86().fma;
#endif
#if defined(SYMHMC_HAVE_NEON_KERNELS)
    case Isa::neon:
      return cpu_has_neon();
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
    case Isa::neon: return "neon";
  }
  return "unknown";
}

bool isa_from_name(const std::string& name, Isa* out) {
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512, Isa::neon})
    if (name == isa_name(isa)) {
      *out = isa;
      return true;
    }
  return false;
}

std::vector<Isa> compiled_isas() {
#if defined(SYMHMC_HAVE_X86_KERNELS)
  return {Isa::scalar, Isa::avx2, Isa::avx512};
#elif defined(SYMHMC_HAVE_NEON_KERNELS)
  return {Isa::scalar, Isa::neon};
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
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::neon})
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
