// Single-core floating-point FMA peak of this CPU (float64 and float32, AVX-512 and AVX2), and the
// throughput of float64 AVX-512 divides.
//
// Build and run (no dependencies):
//     g++ -O2 -mavx512f -mfma benchmarks/peak_flops.cpp -o /tmp/peak_flops
//     /tmp/peak_flops            # optional argument: seconds per measurement (default 0.3)
//
// Each kernel runs NACC independent FMA chains (acc = acc * a + b) in registers, enough to hide the
// FMA latency (4 cycles on Zen 4) times the number of FMA pipes (2): 16 zmm accumulators for AVX-512
// (32 registers), 12 for AVX2 and scalar (16 registers without AVX-512VL; a and b take two more).
// The FMAs are written as inline asm so that the compiler can neither merge the scalar chains into
// vectors nor spill accumulators. One FMA counts as 2 FLOPs per lane.
// The values stay bounded (a < 1), so there are no denormals or overflows. The best of several
// repetitions is reported; the program runs on one thread (pin it with `taskset -c 0` if you like).
// It also estimates the core clock from a chain of dependent integer adds (1 cycle each), which gives
// FLOPs per cycle. On Zen 4, 512-bit FMAs are executed as two 256-bit halves ("double pumped"), so the
// expected peak per cycle is the same for AVX-512 and AVX2: 16 float64 / 32 float32 FLOPs per cycle.

#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

constexpr int64_t INNER = 1000;  // FMA rounds per timing check

double now() {
    using clk = std::chrono::steady_clock;
    return std::chrono::duration<double>(clk::now().time_since_epoch()).count();
}

// A generic kernel over a SIMD "vector" type V with broadcast/fma/add/reduce helpers.
template <class Ops, int NACC>
double run_kernel(double seconds) {
    using V = typename Ops::V;
    V acc[NACC];
    for (int i = 0; i < NACC; ++i) acc[i] = Ops::set1(1.0 + 0.001 * i);
    const V a = Ops::set1(0.9999999);
    const V b = Ops::set1(1e-7);
    int64_t rounds = 0;
    const double t0 = now();
    double t1 = t0;
    do {
        for (int64_t r = 0; r < INNER; ++r) {
#pragma GCC unroll 32
            for (int i = 0; i < NACC; ++i) acc[i] = Ops::fma(acc[i], a, b);
        }
        rounds += INNER;
        t1 = now();
    } while (t1 - t0 < seconds);
    // Keep the results alive so the compiler cannot drop the loop.
    V s = acc[0];
    for (int i = 1; i < NACC; ++i) s = Ops::add(s, acc[i]);
    volatile double sink = Ops::reduce(s);
    (void)sink;
    const double flops = 2.0 * Ops::LANES * NACC * static_cast<double>(rounds);
    return flops / (t1 - t0) * 1e-9;  // GFLOP/s
}

struct Avx512D {
    using V = __m512d;
    static constexpr int LANES = 8;
    static V set1(double x) { return _mm512_set1_pd(x); }
    static V fma(V x, V a, V b) { asm("vfmadd213pd %2, %1, %0" : "+v"(x) : "v"(a), "v"(b)); return x; }
    static V add(V x, V y) { return _mm512_add_pd(x, y); }
    static double reduce(V x) {
        alignas(64) double t[8];
        _mm512_store_pd(t, x);
        double s = 0;
        for (double v : t) s += v;
        return s;
    }
};
struct Avx512F {
    using V = __m512;
    static constexpr int LANES = 16;
    static V set1(double x) { return _mm512_set1_ps(static_cast<float>(x)); }
    static V fma(V x, V a, V b) { asm("vfmadd213ps %2, %1, %0" : "+v"(x) : "v"(a), "v"(b)); return x; }
    static V add(V x, V y) { return _mm512_add_ps(x, y); }
    static double reduce(V x) {
        alignas(64) float t[16];
        _mm512_store_ps(t, x);
        double s = 0;
        for (float v : t) s += v;
        return s;
    }
};
struct Avx2D {
    using V = __m256d;
    static constexpr int LANES = 4;
    static V set1(double x) { return _mm256_set1_pd(x); }
    static V fma(V x, V a, V b) { asm("vfmadd213pd %2, %1, %0" : "+x"(x) : "x"(a), "x"(b)); return x; }
    static V add(V x, V y) { return _mm256_add_pd(x, y); }
    static double reduce(V x) {
        alignas(32) double t[4];
        _mm256_store_pd(t, x);
        return t[0] + t[1] + t[2] + t[3];
    }
};
struct Avx2F {
    using V = __m256;
    static constexpr int LANES = 8;
    static V set1(double x) { return _mm256_set1_ps(static_cast<float>(x)); }
    static V fma(V x, V a, V b) { asm("vfmadd213ps %2, %1, %0" : "+x"(x) : "x"(a), "x"(b)); return x; }
    static V add(V x, V y) { return _mm256_add_ps(x, y); }
    static double reduce(V x) {
        alignas(32) float t[8];
        _mm256_store_ps(t, x);
        double s = 0;
        for (float v : t) s += v;
        return s;
    }
};
struct ScalarD {  // scalar FMA (vfmadd on xmm, one lane), for reference
    using V = double;
    static constexpr int LANES = 1;
    static V set1(double x) { return x; }
    static V fma(V x, V a, V b) { asm("vfmadd213sd %2, %1, %0" : "+x"(x) : "x"(a), "x"(b)); return x; }
    static V add(V x, V y) { return x + y; }
    static double reduce(V x) { return x; }
};

// Core clock estimate: a chain of dependent integer adds retires one per cycle.
double estimate_ghz(double seconds) {
    uint64_t x = 0;
    int64_t n = 0;
    const double t0 = now();
    double t1 = t0;
    do {
        for (int i = 0; i < 100000; ++i) {
            // 8 dependent adds per iteration; asm keeps the compiler from folding them.
            asm volatile(
                "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                : "+r"(x));
        }
        n += 800000;
        t1 = now();
    } while (t1 - t0 < seconds);
    return static_cast<double>(n) / (t1 - t0) * 1e-9;
}

// Throughput of 512-bit float64 divides, in divides (of 8 lanes) per second: 16 independent chains
// x = c / x. A tanh costs one (tanh |z| = e / (e + 2) with e = expm1(2 |z|)), so this bounds the
// activation cost of the narrow-net kernels from below.
double divide_rate(double seconds) {
    __m512d x[16];
    for (int i = 0; i < 16; ++i) x[i] = _mm512_set1_pd(1.5 + 0.01 * i);
    const __m512d c = _mm512_set1_pd(2.0);
    int64_t n = 0;
    const double t0 = now();
    double t1 = t0;
    do {
        for (int r = 0; r < 1000; ++r) {
#pragma GCC unroll 16
            for (int i = 0; i < 16; ++i) asm("vdivpd %0, %1, %0" : "+v"(x[i]) : "v"(c));
        }
        n += 16000;
        t1 = now();
    } while (t1 - t0 < seconds);
    double s = 0;
    for (auto& v : x) s += v[0];
    volatile double sink = s;
    (void)sink;
    return static_cast<double>(n) / (t1 - t0);
}

template <class Ops, int NACC>
double best_of(int reps, double seconds) {
    double best = 0;
    for (int r = 0; r < reps; ++r) {
        const double g = run_kernel<Ops, NACC>(seconds);
        if (g > best) best = g;
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? std::atof(argv[1]) : 0.3;
    const int reps = 5;
    const double ghz = [&] {
        double best = 0;
        for (int r = 0; r < reps; ++r) {
            const double g = estimate_ghz(seconds / 3);
            if (g > best) best = g;
        }
        return best;
    }();
    std::printf("estimated core clock: %.2f GHz (dependent integer adds)\n", ghz);
    std::printf("%-22s %10s %12s\n", "kernel", "GFLOP/s", "FLOP/cycle");
    const auto row = [&](const char* name, double g) {
        std::printf("%-22s %10.1f %12.1f\n", name, g, g / ghz);
    };
    row("float64 AVX-512 (zmm)", best_of<Avx512D, 16>(reps, seconds));
    row("float64 AVX2 (ymm)", best_of<Avx2D, 12>(reps, seconds));
    row("float64 scalar FMA", best_of<ScalarD, 12>(reps, seconds));
    row("float32 AVX-512 (zmm)", best_of<Avx512F, 16>(reps, seconds));
    row("float32 AVX2 (ymm)", best_of<Avx2F, 12>(reps, seconds));
    double div = 0;
    for (int r = 0; r < reps; ++r) {
        const double d = divide_rate(seconds);
        if (d > div) div = d;
    }
    std::printf("float64 AVX-512 divide (zmm): %.1f cycles per vector of 8\n", ghz * 1e9 / div);
    return 0;
}
