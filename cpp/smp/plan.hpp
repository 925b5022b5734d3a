// smpfast: plain description of one batched SMP call (no code, no Python).
//
// A call measures every signal of an N-d array whose last axis is the path axis. The
// batch axes are described by shapes and byte strides; results go to C-contiguous
// float64 / int64 arrays over the batch shape.
#pragma once

#include <cstdint>

namespace smpfast {

enum class Mode : int { local = 0, run = 1 };
enum class DType : int { f32 = 0, f64 = 1 };

constexpr int kMaxDims = 64;

struct SmpCall {
    const char* base = nullptr;     // first sample of the first signal
    DType dtype = DType::f64;
    std::int64_t length = 0;        // T, samples per signal (>= 3)
    std::int64_t path_stride = 0;   // bytes between consecutive samples of a signal
    int batch_ndim = 0;
    std::int64_t batch_shape[kMaxDims] = {};
    std::int64_t batch_stride[kMaxDims] = {};  // bytes
    double* out_smp = nullptr;      // C-contiguous over batch_shape
    std::int64_t* out_count = nullptr;
    Mode mode = Mode::local;
    double height = 0.0;
    double tol = 0.0;
    bool omit = false;              // split signals at non-finite samples (else: NaN, 0)
    int threads = 1;
};

// A batch reduced to: `outer` multi-index (up to kMaxDims dims) x one `lane` axis.
struct Plan {
    const char* base = nullptr;
    DType dtype = DType::f64;
    std::int64_t itemsize = 8;
    std::int64_t length = 0;
    std::int64_t path_stride = 0;
    // lane axis (after orientation: stride >= 0)
    std::int64_t lanes = 1;
    std::int64_t lane_stride = 0;      // bytes in the input
    std::int64_t lane_out_stride = 0;  // elements in the outputs
    // outer axes
    int outer_ndim = 0;
    std::int64_t outer_shape[kMaxDims] = {};
    std::int64_t outer_stride[kMaxDims] = {};
    std::int64_t outer_out_stride[kMaxDims] = {};
    std::int64_t outer_count = 1;
    std::int64_t out_offset = 0;       // output element of lane 0 of outer index 0
    double* out_smp = nullptr;
    std::int64_t* out_count = nullptr;
    Mode mode = Mode::local;
    double height = 0.0;
    double tol = 0.0;
    bool omit = false;
    bool lanes_contiguous = false;     // lane_stride == itemsize: read rows in place
    bool states_on_stack = false;      // every worker thread has stack room for a group
};

}  // namespace smpfast
