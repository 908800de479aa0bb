// Included first by every binding file: one place for the pybind11 headers and shared helpers.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

void register_model(py::module_& m);
void register_simd(py::module_& m);
void register_targets(py::module_& m);
void register_hmc(py::module_& m);
void register_symmetry(py::module_& m);
void register_tempering(py::module_& m);
