// smpfast: batched SMP and single-signal peak finding (no Python).
#pragma once

#include <cstdint>
#include <vector>

#include "plan.hpp"

namespace smpfast {

// Reduce a call to a plan: drop unit axes, merge axes that are contiguous with each
// other, pick the lane axis (unit stride if any), orient it to a positive stride.
Plan make_plan(const SmpCall& call);

// Measure every signal of the call with the active SIMD target, on call.threads threads.
// Preconditions (checked by the binding): length >= 3, dtype f32/f64, outputs sized.
void smp_batch(const SmpCall& call);

// Bytes of stack left below the caller's frame (0 if unknown).
std::int64_t stack_room();

// Merge the pixel axes of a stream call (stream.cpp).
StreamPlan make_stream_plan(const StreamCall& call);

// Advance an SMPStream's state arrays over one block of frames, on call.threads threads
// (stream.cpp). Preconditions (checked by the binding): dtype f32/f64, state arrays
// C-contiguous, of the call's dtype and pixel count.
void smp_stream(const StreamCall& call);

// Peaks of one strided signal. Returns false when it holds a non-finite sample and
// omit is false (then positions/magnitudes are left empty).
bool find_peaks(const char* first, DType dtype, std::int64_t length, std::int64_t stride,
                Mode mode, double height, double tol, bool omit,
                std::vector<std::int64_t>& positions, std::vector<double>& magnitudes);

}  // namespace smpfast
