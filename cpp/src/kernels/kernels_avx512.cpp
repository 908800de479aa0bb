// The per-ISA kernels compiled for the avx512 instruction set (flags in CMakeLists.txt).
#define SYMHMC_KERNEL_NS avx512
#include "kernels/mlp_kernel_impl.hpp"
#include "kernels/normal_kernel_impl.hpp"
