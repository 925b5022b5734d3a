// smpfast: batched SMP and single-signal peak finding (no Python).
#pragma once

#include <cstdint>
#include <functional>
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

struct Target;

// Whether the calling thread has room for a target's group states on its stack (pool
// threads have default 8 MiB stacks; the caller's may be small, e.g. a Python thread
// started with a small threading.stack_size()): 256 KiB spare beyond the states.
bool group_states_fit(const Target& target);

// Split `blocks` blocks of work over at most `threads` threads (at least ~256k samples
// per thread, so small calls do not pay for thread start-up) and run
// fn(b0, b1, scratch) on each range, with the thread's scratch of `scratch_bytes`.
void run_block_ranges(std::int64_t blocks, std::int64_t samples, int threads,
                      std::int64_t scratch_bytes,
                      const std::function<void(std::int64_t, std::int64_t, void*)>& fn);

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
