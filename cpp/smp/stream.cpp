// smpfast: the SMPStream update: planning and threads. Compiled without ISA flags; the
// work is Block<E>::stream_blocks (simd/lanes.hpp) of the active SIMD target.
#include "../simd/dispatch.hpp"
#include "driver.hpp"

namespace smpfast {

StreamPlan make_stream_plan(const StreamCall& call) {
    StreamPlan P;
    P.base = call.base;
    P.dtype = call.dtype;
    P.itemsize = call.dtype == DType::f32 ? 4 : 8;
    P.frames = call.frames;
    P.frame_stride = call.frame_stride;
    P.state = call.state;
    P.mode = call.mode;
    P.height = call.height;
    P.tol = call.tol;
    P.omit = call.omit;
    P.npix = 1;
    // Drop unit axes; merge an axis into the previous one when they step as one (C order
    // of the flattened pixel index is kept: no reordering, no reorientation).
    for (int k = 0; k < call.pixel_ndim; ++k) {
        const std::int64_t n = call.pixel_shape[k];
        P.npix *= n;
        if (n == 1) continue;
        if (P.ndim > 0 && P.stride[P.ndim - 1] == n * call.pixel_stride[k]) {
            P.shape[P.ndim - 1] *= n;
            P.stride[P.ndim - 1] = call.pixel_stride[k];
        } else {
            P.shape[P.ndim] = n;
            P.stride[P.ndim] = call.pixel_stride[k];
            ++P.ndim;
        }
    }
    P.lanes_contiguous = P.ndim == 0 || (P.ndim == 1 && P.stride[0] == P.itemsize);
    return P;
}

void smp_stream(const StreamCall& call) {
    StreamPlan P = make_stream_plan(call);
    if (P.npix == 0 || P.frames == 0) return;
    const Target& target = simd::active();
    P.states_on_stack = group_states_fit(target);
    const std::int64_t W = P.dtype == DType::f32 ? target.block_lanes_f32 : target.block_lanes_f64;
    run_block_ranges((P.npix + W - 1) / W, P.npix * P.frames, call.threads, target.scratch_bytes,
                     [&](std::int64_t b0, std::int64_t b1, void* scratch) {
                         target.stream_blocks(P, b0, b1, scratch);
                     });
}

}  // namespace smpfast
