// The per-ISA kernels compiled for 128-bit NEON (aarch64, where it is part of the base instruction set;
// the macro tells the kernel headers apart from the scalar build, which also sees __ARM_NEON).
#define SYMHMC_KERNEL_NS neon
#define SYMHMC_KERNEL_NEON
#include "kernels/mlp_kernel_impl.hpp"
#include "kernels/normal_kernel_impl.hpp"
