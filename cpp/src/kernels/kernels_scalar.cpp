// The per-ISA kernels compiled for the scalar instruction set (flags in CMakeLists.txt).
#define SYMHMC_KERNEL_NS scalar
#include "kernels/mlp_kernel_impl.hpp"
#include "kernels/normal_kernel_impl.hpp"
