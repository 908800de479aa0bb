// The per-ISA kernels compiled for the avx2 instruction set (flags in CMakeLists.txt).
#define SYMHMC_KERNEL_NS avx2
#include "kernels/mlp_kernel_impl.hpp"
#include "kernels/normal_kernel_impl.hpp"
