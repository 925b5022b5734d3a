// smpfast._core: the compiled extension. Only creates the module and registers families.
#include <pybind11/pybind11.h>

#include "register.hpp"

PYBIND11_MODULE(_core, m, pybind11::mod_gil_not_used()) {
    m.doc() = "smpfast compiled core (SMP kernels and building blocks, run-time SIMD dispatch)";
    smpfast::register_smp(m);
    smpfast::register_nn(m);
    smpfast::register_stream(m);
#ifdef SMPFAST_VERSION
    m.attr("__version__") = SMPFAST_VERSION;
#endif
}
