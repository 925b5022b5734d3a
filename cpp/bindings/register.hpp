// smpfast: one register_<family>() per binding file; module.cpp calls them.
#pragma once

#include <pybind11/pybind11.h>

namespace smpfast {
void register_smp(pybind11::module_& m);
void register_nn(pybind11::module_& m);
void register_stream(pybind11::module_& m);
}  // namespace smpfast
