// smpfast: binding of the SMPStream update. Validate and convert only; the work is in
// cpp/smp/stream.cpp and simd/lanes.hpp (Block<E>::stream_blocks).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <string>

#include "../smp/driver.hpp"
#include "convert.hpp"
#include "register.hpp"

namespace py = pybind11;

namespace smpfast {
namespace {

// state[key] as a writable C-contiguous array of `kind`/`itemsize` and `size` elements.
void* state_array(const py::dict& state, const char* key, char kind, py::ssize_t itemsize,
                  py::ssize_t size) {
    if (!state.contains(key)) throw py::key_error(std::string("state lacks the array '") + key + "'");
    py::object obj = state[key];
    if (!py::isinstance<py::array>(obj))
        throw py::type_error(std::string("state['") + key + "'] must be a NumPy array");
    auto a = py::reinterpret_borrow<py::array>(obj);
    const py::dtype dt = a.dtype();
    if (dt.kind() != kind || dt.itemsize() != itemsize || dt.byteorder() == '>')
        throw py::type_error(std::string("state['") + key + "'] has dtype " +
                             std::string(py::str(dt)) + ", expected kind '" + kind + "' of " +
                             std::to_string(itemsize) + " bytes");
    if (a.size() != size)
        throw py::value_error(std::string("state['") + key + "'] has " + std::to_string(a.size()) +
                              " elements, expected " + std::to_string(size));
    if (!(a.flags() & py::array::c_style) || !a.writeable())
        throw py::value_error(std::string("state['") + key + "'] must be C-contiguous and writable");
    return a.mutable_data();
}

void stream_update(const py::array& frames, const py::dict& state, const std::string& mode,
                   double height, double tol, bool omit, int threads) {
    const DType dtype = float_dtype(frames, "frames");
    if (mode != "local" && mode != "run")
        throw py::value_error("mode must be 'local' or 'run'; got '" + mode + "'");
    if (!(height >= 0.0) || !std::isfinite(height))
        throw py::value_error("height must be a finite number >= 0");
    if (!(tol >= 0.0) || !std::isfinite(tol)) throw py::value_error("tol must be a finite number >= 0");
    if (threads < 1) throw py::value_error("threads must be >= 1");
    const py::ssize_t ndim = frames.ndim();
    if (ndim < 1) throw py::value_error("frames must have a frame axis (first)");
    if (ndim - 1 > kMaxDims) throw py::value_error("frames has too many dimensions");
    StreamCall call;
    call.base = static_cast<const char*>(frames.data());
    call.dtype = dtype;
    call.frames = static_cast<std::int64_t>(frames.shape(0));
    call.frame_stride = static_cast<std::int64_t>(frames.strides(0));
    call.pixel_ndim = static_cast<int>(ndim - 1);
    py::ssize_t npix = 1;
    for (py::ssize_t k = 1; k < ndim; ++k) {
        call.pixel_shape[k - 1] = static_cast<std::int64_t>(frames.shape(k));
        call.pixel_stride[k - 1] = static_cast<std::int64_t>(frames.strides(k));
        npix *= frames.shape(k);
    }
    const py::ssize_t isz = dtype == DType::f32 ? 4 : 8;
    StreamState& S = call.state;
    S.y1 = state_array(state, "y1", 'f', isz, npix);
    S.y2 = state_array(state, "y2", 'f', isz, npix);
    S.seen = static_cast<std::uint8_t*>(state_array(state, "seen", 'u', 1, npix));
    S.acc = static_cast<double*>(state_array(state, "acc", 'f', 8, npix));
    S.total = static_cast<double*>(state_array(state, "total", 'f', 8, npix));
    S.count = static_cast<std::int64_t*>(state_array(state, "count", 'i', 8, npix));
    S.poisoned = static_cast<std::uint8_t*>(state_array(state, "poisoned", 'b', 1, npix));
    if (mode == "local") {
        call.mode = Mode::local;
        S.p = state_array(state, "p", 'f', isz, npix);
        S.rising = static_cast<std::uint8_t*>(state_array(state, "rising", 'b', 1, npix));
    } else {
        call.mode = Mode::run;
        S.s = static_cast<double*>(state_array(state, "s", 'f', 8, npix));
    }
    call.height = height;
    call.tol = tol;
    call.omit = omit;
    call.threads = threads;
    py::gil_scoped_release release;
    smp_stream(call);
}

}  // namespace

void register_stream(py::module_& m) {
    m.def("stream_update", &stream_update, py::arg("frames"), py::arg("state"), py::arg("mode"),
          py::arg("height"), py::arg("tol"), py::arg("omit"), py::arg("threads") = 1,
          "(frames, state, mode, height, tol, omit, threads) -> None. Advance an SMPStream's "
          "state arrays (dict of C-contiguous arrays, smpfast.reference.stream_state layout) "
          "over frames (n, *shape), float32/float64 like the state, any strides; in place.");
}

}  // namespace smpfast
