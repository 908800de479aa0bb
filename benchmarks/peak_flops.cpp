// Single-core floating-point limits of this CPU, for every x86 instruction set it has: the FMA peak
// (float64 and float32; scalar, AVX2 256-bit, AVX-512) and the latency and throughput of divides.
// The kernels' "% of peak" figures (benchmarks/report_gradient.py --peak) are relative to these.
//
// Build and run (no dependencies and no -m flags: each part is compiled for its own instruction set
// with a target attribute, and runs only when the CPU reports that set, so nothing dies with SIGILL):
//     g++ -O2 benchmarks/peak_flops.cpp -o /tmp/peak_flops
//     /tmp/peak_flops            # optional argument: seconds per measurement (default 0.3)
//
// Each FMA part runs independent chains (acc = acc * a + b) in all the registers that a and b leave:
// 14 for AVX2 and scalar (16 registers), 28 zmm for AVX-512 (32). Latency x pipes (4 x 2 on Zen 4 and
// 5) would suggest 8, but on Zen 5 the rate still grew up to 14 ymm chains (8: 40, 12: 45, 14: 48
// GFLOP/s float64), so fewer would understate the peak that a 16-register kernel can reach. The FMAs
// are inline asm so that the compiler can neither merge scalar chains into vectors nor spill
// accumulators. One FMA counts as 2 FLOPs per lane; the values stay bounded (a < 1): no denormals.
// Divide latency is one dependent chain x = c / x; throughput, 12 (ymm) or 16 (zmm) such chains.
//
// Time is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), which other processes on a shared machine
// disturb less than wall time; the best of several repetitions is reported. The core clock comes from
// a chain of dependent 64-bit integer multiplies (3 cycles each on current x86 cores), which turns rates
// into FLOPs and cycles per op. (A chain of `add $1` does not do: Golden Cove folds immediate adds at
// renaming and ran such a chain at 2-3 per cycle, which gave "clocks" of 4.6-6.7 GHz.)

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if !(defined(__x86_64__) || defined(__i386__))
int main() {
  std::puts("peak_flops measures x86 instruction sets only; nothing to do on this CPU");
  return 0;
}
#else
#include <cpuid.h>
#include <immintrin.h>
#include <time.h>

namespace {

constexpr int kInner = 1000;  // rounds per clock reading
volatile double g_sink;       // the chains' results end here, so that the compiler keeps them

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Measures `op` (NACC independent chains of INSN over VEC registers), returning operations per second
// (one operation = one instruction on one vector). SET1 broadcasts a double; CONS is the register
// constraint ("x": xmm/ymm 0-15, "v": all 32 with AVX-512).
#define SYMHMC_CHAINS(NAME, TARGET, VEC, SET1, CONS, NACC, INIT, A, B, ASM)                        \
  __attribute__((target(TARGET), noinline)) double NAME(double seconds) {                           \
    VEC acc[NACC];                                                                                  \
    for (int i = 0; i < NACC; ++i) acc[i] = SET1(INIT + 0.001 * i);                                 \
    const VEC a = SET1(A), b = SET1(B);                                                             \
    int64_t rounds = 0;                                                                             \
    const double t0 = cpu_seconds();                                                                \
    double t1 = t0;                                                                                 \
    do {                                                                                            \
      for (int r = 0; r < kInner; ++r) {                                                            \
        _Pragma("GCC unroll 32") for (int i = 0; i < NACC; ++i) {                                    \
          VEC x = acc[i];                                                                           \
          asm(ASM : "+" CONS(x) : CONS(a), CONS(b));                                                \
          acc[i] = x;                                                                               \
        }                                                                                           \
      }                                                                                             \
      rounds += kInner;                                                                             \
      t1 = cpu_seconds();                                                                           \
    } while (t1 - t0 < seconds);                                                                    \
    for (int i = 0; i < NACC; ++i) {                                                                \
      double first;                                                                                 \
      std::memcpy(&first, &acc[i], sizeof(first));                                                  \
      g_sink = first;                                                                               \
    }                                                                                               \
    return double(NACC) * double(rounds) / (t1 - t0);                                               \
  }

// FMA: acc = acc * a + b (AT&T operand order: vfmadd213 b, a, acc).
#define SYMHMC_FMA(NAME, TARGET, VEC, SET1, CONS, NACC, INSN) \
  SYMHMC_CHAINS(NAME, TARGET, VEC, SET1, CONS, NACC, 1.0, 0.9999999, 1e-7, INSN " %2, %1, %0")
// Divide: acc = a / acc (b unused), which stays near sqrt(a).
#define SYMHMC_DIV(NAME, TARGET, VEC, SET1, CONS, NACC, INSN) \
  SYMHMC_CHAINS(NAME, TARGET, VEC, SET1, CONS, NACC, 1.5, 2.0, 0.0, INSN " %0, %1, %0")

#define SET1_SD(x) double(x)
#define SET1_SS(x) float(x)
#define SET1_256D(x) _mm256_set1_pd(x)
#define SET1_256S(x) _mm256_set1_ps(float(x))
#define SET1_512D(x) _mm512_set1_pd(x)
#define SET1_512S(x) _mm512_set1_ps(float(x))

SYMHMC_FMA(fma_sd, "fma", double, SET1_SD, "x", 14, "vfmadd213sd")
SYMHMC_FMA(fma_ss, "fma", float, SET1_SS, "x", 14, "vfmadd213ss")
SYMHMC_FMA(fma_256d, "avx2,fma", __m256d, SET1_256D, "x", 14, "vfmadd213pd")
SYMHMC_FMA(fma_256s, "avx2,fma", __m256, SET1_256S, "x", 14, "vfmadd213ps")
SYMHMC_FMA(fma_512d, "avx512f", __m512d, SET1_512D, "v", 28, "vfmadd213pd")
SYMHMC_FMA(fma_512s, "avx512f", __m512, SET1_512S, "v", 28, "vfmadd213ps")

SYMHMC_DIV(div_lat_sd, "avx", double, SET1_SD, "x", 1, "vdivsd")
SYMHMC_DIV(div_thr_sd, "avx", double, SET1_SD, "x", 12, "vdivsd")
SYMHMC_DIV(div_lat_256d, "avx", __m256d, SET1_256D, "x", 1, "vdivpd")
SYMHMC_DIV(div_thr_256d, "avx", __m256d, SET1_256D, "x", 12, "vdivpd")
SYMHMC_DIV(div_lat_256s, "avx", __m256, SET1_256S, "x", 1, "vdivps")
SYMHMC_DIV(div_thr_256s, "avx", __m256, SET1_256S, "x", 12, "vdivps")
SYMHMC_DIV(div_lat_512d, "avx512f", __m512d, SET1_512D, "v", 1, "vdivpd")
SYMHMC_DIV(div_thr_512d, "avx512f", __m512d, SET1_512D, "v", 16, "vdivpd")
SYMHMC_DIV(div_lat_512s, "avx512f", __m512, SET1_512S, "v", 1, "vdivps")
SYMHMC_DIV(div_thr_512s, "avx512f", __m512, SET1_512S, "v", 16, "vdivps")

// Core clock: one multiply of a dependent chain every 3 cycles.
double cycles_per_second(double seconds) {
  uint64_t x = 3;  // odd, so it never becomes 0
  int64_t n = 0;
  const double t0 = cpu_seconds();
  double t1 = t0;
  do {
    for (int i = 0; i < 100000; ++i)
      asm volatile(
          "imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0\n\t"
          "imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0\n\t"
          : "+r"(x));
    n += 800000;
    t1 = cpu_seconds();
  } while (t1 - t0 < seconds);
  return 3.0 * double(n) / (t1 - t0);
}

double best_of(double (*f)(double), double seconds, int reps) {
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    const double v = f(seconds);
    if (v > best) best = v;
  }
  return best;
}

const char* cpu_brand(char (&buf)[49]) {
  unsigned regs[12] = {};
  unsigned max_ext = __get_cpuid_max(0x80000000u, nullptr);
  buf[0] = 0;
  if (max_ext < 0x80000004u) return "unknown";
  for (unsigned i = 0; i < 3; ++i)
    __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
  std::memcpy(buf, regs, 48);
  buf[48] = 0;
  const char* p = buf;
  while (*p == ' ') ++p;
  return p;
}

}  // namespace

// __builtin_cpu_supports takes string literals only, hence the table of calls. It also checks that the
// operating system saves the wider registers (XCR0), so a "yes" means the instructions can run.
#define SYMHMC_FEATURES(X)                                                                          \
  X("sse2") X("sse3") X("ssse3") X("sse4.1") X("sse4.2") X("avx") X("f16c") X("fma") X("avx2")      \
  X("avxvnni") X("avx512f") X("avx512dq") X("avx512vl") X("avx512bw") X("avx512cd") X("avx512ifma") \
  X("avx512vbmi") X("avx512vbmi2") X("avx512vnni") X("avx512bf16") X("avx512fp16")

bool has(const char* feature) {
#define SYMHMC_ASK(name) \
  if (std::strcmp(feature, name) == 0) return __builtin_cpu_supports(name);
  SYMHMC_FEATURES(SYMHMC_ASK)
#undef SYMHMC_ASK
  std::fprintf(stderr, "unknown feature %s\n", feature);
  std::abort();
}

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 0.3;
  const int reps = 5;
  __builtin_cpu_init();
  char brand[49];
  std::printf("CPU: %s\n", cpu_brand(brand));
  std::printf("instruction sets:");
#define SYMHMC_PRINT(name) std::printf(" %s%s", name, __builtin_cpu_supports(name) ? "" : " (no)");
  SYMHMC_FEATURES(SYMHMC_PRINT)
#undef SYMHMC_PRINT
  std::printf("\n");
  const bool fma = has("fma"), avx = has("avx"), avx2 = fma && has("avx2") && avx, avx512 = fma && has("avx512f");
  std::printf("symhmc kernels this CPU can run: scalar%s%s\n", avx2 ? ", avx2" : "",
              avx512 && has("avx512dq") && has("avx512vl") ? ", avx512" : "");

  const double hz = best_of(cycles_per_second, seconds / 3, reps);
  std::printf("estimated core clock: %.2f GHz (dependent integer multiplies, thread CPU time)\n\n", hz * 1e-9);

  // A part that the CPU cannot run is listed and skipped.
  const auto skipped = [](const char* name, bool ok, const char* missing) {
    if (!ok) std::printf("%-34s %10s   (skipped: the CPU lacks %s)\n", name, "-", missing);
    return !ok;
  };
  std::printf("%-34s %10s %11s\n", "FMA peak", "GFLOP/s", "FLOP/cycle");
  struct Fma {
    const char* name;
    bool ok;
    const char* missing;
    double (*f)(double);
    int lanes;
  };
  const Fma fmas[] = {
      {"float64 scalar FMA (xmm, 1 lane)", fma, "fma", fma_sd, 1},
      {"float64 AVX2 (ymm, 256-bit)", avx2, "avx2+fma", fma_256d, 4},
      {"float64 AVX-512 (zmm, 512-bit)", avx512, "avx512f", fma_512d, 8},
      {"float32 scalar FMA (xmm, 1 lane)", fma, "fma", fma_ss, 1},
      {"float32 AVX2 (ymm, 256-bit)", avx2, "avx2+fma", fma_256s, 8},
      {"float32 AVX-512 (zmm, 512-bit)", avx512, "avx512f", fma_512s, 16},
  };
  for (const Fma& k : fmas) {
    if (skipped(k.name, k.ok, k.missing)) continue;
    const double gflops = 2.0 * k.lanes * best_of(k.f, seconds, reps) * 1e-9;
    std::printf("%-34s %10.1f %11.1f\n", k.name, gflops, gflops * 1e9 / hz);
  }

  std::printf("\n%-34s %14s %22s\n", "divide", "latency (cyc)", "throughput (cyc/vector)");
  struct Div {
    const char* name;
    bool ok;
    const char* missing;
    double (*latency)(double);
    double (*throughput)(double);
  };
  const Div divs[] = {
      {"float64 scalar (vdivsd)", avx, "avx", div_lat_sd, div_thr_sd},
      {"float64 AVX2 (ymm, 4 lanes)", avx, "avx", div_lat_256d, div_thr_256d},
      {"float32 AVX2 (ymm, 8 lanes)", avx, "avx", div_lat_256s, div_thr_256s},
      {"float64 AVX-512 (zmm, 8 lanes)", avx512, "avx512f", div_lat_512d, div_thr_512d},
      {"float32 AVX-512 (zmm, 16 lanes)", avx512, "avx512f", div_lat_512s, div_thr_512s},
  };
  for (const Div& d : divs) {
    if (skipped(d.name, d.ok, d.missing)) continue;
    const double lat = hz / best_of(d.latency, seconds, reps), thr = hz / best_of(d.throughput, seconds, reps);
    std::printf("%-34s %14.1f %22.1f\n", d.name, lat, thr);
  }
  return 0;
}
#endif
