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

// ---------------------------------------------------------------------------- streaming
// Per-signal state of an SMPStream: structure of arrays over the flattened frame, owned by
// Python (smpfast.reference.stream_state is the layout), read and written in place.
struct StreamState {
    void* y1 = nullptr;              // E: previous finite sample
    void* y2 = nullptr;              // E: the one before
    std::uint8_t* seen = nullptr;    // finite samples in the current piece, clamped to 2
    void* p = nullptr;               // E, local mode: previous |d| (inf before the first)
    std::uint8_t* rising = nullptr;  // local mode: the plateau of p was entered from below
    double* s = nullptr;             // run mode: sum of d over the open run (0: none)
    double* acc = nullptr;           // magnitudes summed in the current finite piece
    double* total = nullptr;         // magnitudes of finished pieces (nan_policy="omit")
    std::int64_t* count = nullptr;   // peaks so far
    std::uint8_t* poisoned = nullptr;  // saw a non-finite sample (omit == false)
};

// One block of frames for a stream: frames (n, *pixel_shape), any byte strides.
struct StreamCall {
    const char* base = nullptr;      // pixel 0 of frame 0
    DType dtype = DType::f64;
    std::int64_t frames = 0;
    std::int64_t frame_stride = 0;   // bytes
    int pixel_ndim = 0;
    std::int64_t pixel_shape[kMaxDims] = {};
    std::int64_t pixel_stride[kMaxDims] = {};  // bytes
    StreamState state;
    Mode mode = Mode::local;
    double height = 0.0;
    double tol = 0.0;
    bool omit = false;
    int threads = 1;
};

// A stream call with the pixel axes merged where they step as one.
struct StreamPlan {
    const char* base = nullptr;
    DType dtype = DType::f64;
    std::int64_t itemsize = 8;
    std::int64_t frames = 0;
    std::int64_t frame_stride = 0;
    std::int64_t npix = 0;
    int ndim = 0;                    // merged pixel axes
    std::int64_t shape[kMaxDims] = {};
    std::int64_t stride[kMaxDims] = {};
    bool lanes_contiguous = false;   // pixel j at base + j * itemsize: rows read in place
    bool states_on_stack = false;    // every worker thread has stack room for a group
    StreamState state;
    Mode mode = Mode::local;
    double height = 0.0;
    double tol = 0.0;
    bool omit = false;

    // Byte offset of flattened pixel j (C order) within a frame.
    std::int64_t pixel_offset(std::int64_t j) const {
        std::int64_t off = 0;
        for (int k = ndim - 1; k >= 0; --k) {
            off += (j % shape[k]) * stride[k];
            j /= shape[k];
        }
        return off;
    }
};

}  // namespace smpfast
