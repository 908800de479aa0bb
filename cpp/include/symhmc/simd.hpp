// Runtime choice of the SIMD kernel set. Every kernel is compiled into the library; the CPU decides
// which ones may run, and a user (or a test) may force any of those.
#pragma once
#include <string>
#include <vector>

namespace symhmc {

enum class Isa { scalar = 0, avx2 = 1, avx512 = 2, neon = 3 };

const char* isa_name(Isa isa);
bool isa_from_name(const std::string& name, Isa* out);  // false for an unknown name
std::vector<Isa> compiled_isas();
bool isa_supported(Isa isa);  // compiled and this CPU runs it
Isa best_isa();                // the fastest supported kernel
Isa active_isa();
// Forces a kernel set; returns false (and changes nothing) when it is not supported here.
bool set_active_isa(Isa isa);

}  // namespace symhmc
