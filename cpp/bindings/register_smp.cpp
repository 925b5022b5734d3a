// smpfast: bindings of the SMP kernels. Validate and convert only; the work is in cpp/smp.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <string>
#include <vector>

#include "../simd/dispatch.hpp"
#include "../smp/driver.hpp"
#include "convert.hpp"
#include "register.hpp"

namespace py = pybind11;

namespace smpfast {
namespace {

void check_options(double height, double tol, int threads) {
    if (!(height >= 0.0) || !std::isfinite(height))
        throw py::value_error("height must be a finite number >= 0");
    if (!(tol >= 0.0) || !std::isfinite(tol))
        throw py::value_error("tol must be a finite number >= 0");
    if (threads < 1) throw py::value_error("threads must be >= 1");
}

py::tuple smp_batched(const py::array& y, Mode mode, double height, double tol, bool omit,
                      int threads) {
    const DType dtype = float_dtype(y, "y");
    check_options(height, tol, threads);
    const py::ssize_t ndim = y.ndim();
    if (ndim < 1) throw py::value_error("y must have at least one axis (the path axis, last)");
    if (ndim - 1 > kMaxDims) throw py::value_error("y has too many dimensions");
    std::vector<py::ssize_t> batch(y.shape(), y.shape() + ndim - 1);
    py::array_t<double> smp(batch);
    py::array_t<std::int64_t> count(batch);
    SmpCall call;
    call.base = static_cast<const char*>(y.data());
    call.dtype = dtype;
    call.length = static_cast<std::int64_t>(y.shape(ndim - 1));
    call.path_stride = static_cast<std::int64_t>(y.strides(ndim - 1));
    call.batch_ndim = static_cast<int>(ndim - 1);
    std::int64_t total = 1;
    for (py::ssize_t k = 0; k + 1 < ndim; ++k) {
        call.batch_shape[k] = static_cast<std::int64_t>(y.shape(k));
        call.batch_stride[k] = static_cast<std::int64_t>(y.strides(k));
        total *= call.batch_shape[k];
    }
    call.out_smp = smp.mutable_data();
    call.out_count = count.mutable_data();
    call.mode = mode;
    call.height = height;
    call.tol = tol;
    call.omit = omit;
    call.threads = threads;
    if (call.length < 3 || total == 0) {  // nothing to measure: SMP 0, no peaks
        std::fill(call.out_smp, call.out_smp + total, 0.0);
        std::fill(call.out_count, call.out_count + total, std::int64_t{0});
        return py::make_tuple(smp, count);
    }
    {
        py::gil_scoped_release release;
        smp_batch(call);
    }
    return py::make_tuple(smp, count);
}

py::tuple peaks_of(const py::array& y, Mode mode, double height, double tol, bool omit) {
    const DType dtype = float_dtype(y, "y");
    check_options(height, tol, 1);
    if (y.ndim() != 1) throw py::value_error("y must be 1-D (one signal)");
    std::vector<std::int64_t> positions;
    std::vector<double> magnitudes;
    const auto length = static_cast<std::int64_t>(y.shape(0));
    if (length >= 3) {
        const char* first = static_cast<const char*>(y.data());
        const auto stride = static_cast<std::int64_t>(y.strides(0));
        py::gil_scoped_release release;
        find_peaks(first, dtype, length, stride, mode, height, tol, omit, positions, magnitudes);
    }
    py::array_t<std::int64_t> pos(static_cast<py::ssize_t>(positions.size()));
    py::array_t<double> mag(static_cast<py::ssize_t>(magnitudes.size()));
    std::copy(positions.begin(), positions.end(), pos.mutable_data());
    std::copy(magnitudes.begin(), magnitudes.end(), mag.mutable_data());
    return py::make_tuple(pos, mag);
}

}  // namespace

void register_smp(py::module_& m) {
    const char* batched_doc =
        "(y, height, tol, omit, threads) -> (smp, count). y: float32/float64, path axis last, "
        "any strides; returns float64 SMP and int64 counts over y.shape[:-1].";
    m.def(
        "smp_local",
        [](const py::array& y, double height, double tol, bool omit, int threads) {
            return smp_batched(y, Mode::local, height, tol, omit, threads);
        },
        py::arg("y"), py::arg("height"), py::arg("tol"), py::arg("omit"), py::arg("threads") = 1,
        batched_doc);
    m.def(
        "smp_run",
        [](const py::array& y, double height, double tol, bool omit, int threads) {
            return smp_batched(y, Mode::run, height, tol, omit, threads);
        },
        py::arg("y"), py::arg("height"), py::arg("tol"), py::arg("omit"), py::arg("threads") = 1,
        batched_doc);
    const char* peaks_doc = "(y, height, tol, omit) -> (positions, magnitudes) of one 1-D signal.";
    m.def(
        "find_peaks_local",
        [](const py::array& y, double height, double tol, bool omit) {
            return peaks_of(y, Mode::local, height, tol, omit);
        },
        py::arg("y"), py::arg("height"), py::arg("tol"), py::arg("omit"), peaks_doc);
    m.def(
        "find_peaks_run",
        [](const py::array& y, double height, double tol, bool omit) {
            return peaks_of(y, Mode::run, height, tol, omit);
        },
        py::arg("y"), py::arg("height"), py::arg("tol"), py::arg("omit"), peaks_doc);

    m.def("simd_targets", &simd::supported_targets,
          "SIMD targets compiled in and supported by this CPU, best first.");
    m.def("compiled_simd_targets", &simd::compiled_targets, "SIMD targets compiled in.");
    m.def("get_simd_target", []() { return std::string(simd::active().name); },
          "The SIMD target in use.");
    m.def(
        "set_simd_target",
        [](const std::string& name) {
            if (!simd::set_active(name)) {
                std::string valid;
                for (const auto& t : simd::supported_targets()) valid += (valid.empty() ? "" : ", ") + t;
                throw py::value_error("SIMD target must be one of " + valid + "; got '" + name + "'");
            }
        },
        py::arg("name"), "Select a SIMD target (for tests and benchmarks; not thread-safe).");
    m.def("block_lanes", []() { return simd::active().block_lanes_f32; },
          "Signals per vector block of the active target (float32 input).");
}

}  // namespace smpfast
