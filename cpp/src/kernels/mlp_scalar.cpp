// The MLP likelihood kernels compiled for the scalar instruction set (flags in CMakeLists.txt).
#define SYMHMC_KERNEL_NS scalar
#include "kernels/mlp_kernel_impl.hpp"
