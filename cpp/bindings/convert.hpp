// smpfast: conversions shared by the binding files (Python side only).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "../smp/plan.hpp"

namespace smpfast {

// float32 / float64 (equivalent dtype objects accepted; non-native byte order rejected).
inline DType float_dtype(const pybind11::array& a, const char* name) {
    if (pybind11::isinstance<pybind11::array_t<float>>(a)) return DType::f32;
    if (pybind11::isinstance<pybind11::array_t<double>>(a)) return DType::f64;
    throw pybind11::type_error(std::string(name) + " must have dtype float32 or float64, got " +
                               std::string(pybind11::str(a.dtype())));
}

}  // namespace smpfast
