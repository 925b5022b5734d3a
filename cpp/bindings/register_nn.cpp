// smpfast: bindings of the building blocks. Validate and convert only; work is in cpp/nn.
// Stride rule: inputs that are not C-contiguous are copied to C-contiguous (these kernels
// read windows; a copy costs one pass, small next to the work).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "../nn/driver.hpp"
#include "convert.hpp"
#include "register.hpp"

namespace py = pybind11;

namespace smpfast {
namespace {

std::string shape_of(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t k = 0; k < a.ndim(); ++k) s += (k ? ", " : "") + std::to_string(a.shape(k));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

py::array contiguous(const py::array& a, DType dt) {
    if (dt == DType::f32) return py::array_t<float, py::array::c_style>::ensure(a);
    return py::array_t<double, py::array::c_style>::ensure(a);
}

py::array empty_like_dtype(DType dt, const std::vector<py::ssize_t>& shape) {
    if (dt == DType::f32) return py::array_t<float>(shape);
    return py::array_t<double>(shape);
}

void check_same(DType a, DType b, const char* what) {
    if (a != b) throw py::type_error(std::string(what) + " must have the dtype of x");
}

void check_positive(std::int64_t v, const char* what) {
    if (v < 1) throw py::value_error(std::string(what) + " must be >= 1");
}

py::array conv2d(const py::array& x_in, const py::array& w_in, const py::object& bias_in,
                 std::int64_t sh, std::int64_t sw, std::int64_t ph, std::int64_t pw,
                 std::int64_t dh, std::int64_t dw, std::int64_t groups, int threads) {
    const DType dt = float_dtype(x_in, "x");
    check_same(dt, float_dtype(w_in, "weight"), "weight");
    if (x_in.ndim() != 4) throw py::value_error("x must be (N, C, H, W), got " + shape_of(x_in));
    if (w_in.ndim() != 4)
        throw py::value_error("weight must be (O, C/groups, KH, KW), got " + shape_of(w_in));
    check_positive(sh, "stride");
    check_positive(sw, "stride");
    check_positive(dh, "dilation");
    check_positive(dw, "dilation");
    check_positive(groups, "groups");
    if (ph < 0 || pw < 0) throw py::value_error("padding must be >= 0");
    ConvPlan P;
    P.dtype = dt;
    P.N = x_in.shape(0); P.C = x_in.shape(1); P.H = x_in.shape(2); P.W = x_in.shape(3);
    P.O = w_in.shape(0); P.KH = w_in.shape(2); P.KW = w_in.shape(3);
    P.sh = sh; P.sw = sw; P.ph = ph; P.pw = pw; P.dh = dh; P.dw = dw; P.groups = groups;
    if (P.C % groups != 0 || P.O % groups != 0 || w_in.shape(1) * groups != P.C)
        throw py::value_error("x " + shape_of(x_in) + " and weight " + shape_of(w_in) +
                              " do not match for groups=" + std::to_string(groups));
    if (P.KH < 1 || P.KW < 1) throw py::value_error("weight has an empty kernel " + shape_of(w_in));
    const std::int64_t eh = P.H + 2 * ph - dh * (P.KH - 1), ew = P.W + 2 * pw - dw * (P.KW - 1);
    if (eh < 1 || ew < 1)
        throw py::value_error("kernel of weight " + shape_of(w_in) +
                              " (with dilation) is larger than the padded input " + shape_of(x_in));
    P.HO = (eh - 1) / sh + 1;
    P.WO = (ew - 1) / sw + 1;
    py::array x = contiguous(x_in, dt), w = contiguous(w_in, dt);
    py::array bias;
    if (!bias_in.is_none()) {
        py::array b_in = py::array::ensure(bias_in);
        if (!b_in) throw py::type_error("bias must be an array or None");
        check_same(dt, float_dtype(b_in, "bias"), "bias");
        if (b_in.ndim() != 1 || b_in.shape(0) != P.O)
            throw py::value_error("bias must be (" + std::to_string(P.O) + ",), got " +
                                  shape_of(b_in));
        bias = contiguous(b_in, dt);
        P.bias = bias.data();
    }
    py::array out = empty_like_dtype(dt, {P.N, P.O, P.HO, P.WO});
    P.x = x.data();
    P.w = w.data();
    P.out = out.mutable_data();
    if (out.size() > 0) {
        py::gil_scoped_release release;
        nn::conv2d(P, threads);
    }
    return out;
}

PoolPlan pool_plan(const py::array& x, std::int64_t kh, std::int64_t kw, std::int64_t sh,
                   std::int64_t sw, std::int64_t ph, std::int64_t pw, std::int64_t dh,
                   std::int64_t dw, std::int64_t ho, std::int64_t wo) {
    if (x.ndim() != 4) throw py::value_error("x must be (N, C, H, W), got " + shape_of(x));
    check_positive(kh, "kernel_size");
    check_positive(kw, "kernel_size");
    check_positive(sh, "stride");
    check_positive(sw, "stride");
    check_positive(dh, "dilation");
    check_positive(dw, "dilation");
    if (ph < 0 || pw < 0 || ho < 0 || wo < 0)
        throw py::value_error("padding and output size must be >= 0");
    PoolPlan P;
    P.P = x.shape(0) * x.shape(1); P.H = x.shape(2); P.W = x.shape(3);
    P.HO = ho; P.WO = wo; P.KH = kh; P.KW = kw; P.sh = sh; P.sw = sw;
    P.ph = ph; P.pw = pw; P.dh = dh; P.dw = dw;
    return P;
}

py::object max_pool2d(const py::array& x_in, std::int64_t kh, std::int64_t kw, std::int64_t sh,
                      std::int64_t sw, std::int64_t ph, std::int64_t pw, std::int64_t dh,
                      std::int64_t dw, std::int64_t ho, std::int64_t wo, bool with_indices,
                      int threads) {
    const DType dt = float_dtype(x_in, "x");
    PoolPlan P = pool_plan(x_in, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo);
    P.dtype = dt;
    py::array x = contiguous(x_in, dt);
    std::vector<py::ssize_t> shape = {x.shape(0), x.shape(1), ho, wo};
    py::array out = empty_like_dtype(dt, shape);
    py::array_t<std::int64_t> idx(with_indices ? shape : std::vector<py::ssize_t>{0});
    P.x = x.data();
    P.out = out.mutable_data();
    P.indices = with_indices ? idx.mutable_data() : nullptr;
    if (out.size() > 0) {
        py::gil_scoped_release release;
        nn::max_pool2d(P, threads);
    }
    if (with_indices) return py::make_tuple(out, idx);
    return std::move(out);
}

py::array avg_pool2d(const py::array& x_in, std::int64_t kh, std::int64_t kw, std::int64_t sh,
                     std::int64_t sw, std::int64_t ph, std::int64_t pw, std::int64_t ho,
                     std::int64_t wo, bool count_include_pad, int threads) {
    const DType dt = float_dtype(x_in, "x");
    PoolPlan P = pool_plan(x_in, kh, kw, sh, sw, ph, pw, 1, 1, ho, wo);
    P.dtype = dt;
    P.count_include_pad = count_include_pad;
    py::array x = contiguous(x_in, dt);
    py::array out = empty_like_dtype(dt, {x.shape(0), x.shape(1), ho, wo});
    P.x = x.data();
    P.out = out.mutable_data();
    if (out.size() > 0) {
        py::gil_scoped_release release;
        nn::avg_pool2d(P, threads);
    }
    return out;
}

py::array activation(const py::array& x_in, int kind, double slope, const py::object& weight_in,
                     int threads) {
    const DType dt = float_dtype(x_in, "x");
    py::array x = contiguous(x_in, dt);
    std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
    py::array out = empty_like_dtype(dt, shape);
    ActPlan P;
    P.dtype = dt;
    P.x = x.data();
    P.out = out.mutable_data();
    P.n = static_cast<std::int64_t>(x.size());
    P.slope = slope;
    py::array weight;
    if (kind == 2) {
        weight = py::array::ensure(weight_in);
        if (!weight) throw py::type_error("weight must be an array");
        check_same(dt, float_dtype(weight, "weight"), "weight");
        weight = contiguous(weight, dt);
        const std::int64_t c = static_cast<std::int64_t>(weight.size());
        if (c != 1 && (x.ndim() < 2 || x.shape(1) != c))
            throw py::value_error("prelu weight " + shape_of(weight) +
                                  " must have 1 or x.shape[1] elements; x is " + shape_of(x));
        P.weight = weight.data();
        P.channels = c;
        std::int64_t inner = 1;
        if (c != 1)
            for (py::ssize_t k = 2; k < x.ndim(); ++k) inner *= x.shape(k);
        P.inner = inner;
    }
    if (P.n > 0) {
        py::gil_scoped_release release;
        nn::activation(P, kind, threads);
    }
    return out;
}

}  // namespace

void register_nn(py::module_& m) {
    m.def("conv2d", &conv2d, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("sh"),
          py::arg("sw"), py::arg("ph"), py::arg("pw"), py::arg("dh"), py::arg("dw"),
          py::arg("groups"), py::arg("threads") = 1,
          "Direct 2-D convolution, NCHW (torch.nn.functional.conv2d semantics).");
    m.def("max_pool2d", &max_pool2d, py::arg("x"), py::arg("kh"), py::arg("kw"), py::arg("sh"),
          py::arg("sw"), py::arg("ph"), py::arg("pw"), py::arg("dh"), py::arg("dw"),
          py::arg("ho"), py::arg("wo"), py::arg("with_indices"), py::arg("threads") = 1,
          "Max pooling, NCHW; output size given; returns out or (out, indices).");
    m.def("avg_pool2d", &avg_pool2d, py::arg("x"), py::arg("kh"), py::arg("kw"), py::arg("sh"),
          py::arg("sw"), py::arg("ph"), py::arg("pw"), py::arg("ho"), py::arg("wo"),
          py::arg("count_include_pad"), py::arg("threads") = 1, "Average pooling, NCHW.");
    m.def(
        "relu", [](const py::array& x, int threads) { return activation(x, 0, 0.0, py::none(), threads); },
        py::arg("x"), py::arg("threads") = 1);
    m.def(
        "leaky_relu",
        [](const py::array& x, double slope, int threads) {
            return activation(x, 1, slope, py::none(), threads);
        },
        py::arg("x"), py::arg("negative_slope"), py::arg("threads") = 1);
    m.def(
        "prelu",
        [](const py::array& x, const py::object& weight, int threads) {
            return activation(x, 2, 0.0, weight, threads);
        },
        py::arg("x"), py::arg("weight"), py::arg("threads") = 1);
}

}  // namespace smpfast
