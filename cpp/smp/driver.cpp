// smpfast: planning, threading and the scalar entry points. Compiled without ISA flags.
#define SMPFAST_NS common
#include "driver.hpp"

#include <pthread.h>

#include <algorithm>

#include "../common/parallel.hpp"
#include "../simd/dispatch.hpp"
#include "scalar.hpp"

namespace smpfast {

// Bytes of stack left below the current frame (0 if unknown). The stack's bounds are
// looked up once per thread (for the main thread glibc reads /proc/self/maps).
std::int64_t stack_room() {
#if defined(__linux__)
    thread_local const char* low = nullptr;
    thread_local bool known = false;
    if (!known) {
        known = true;
        pthread_attr_t attr;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            void* addr = nullptr;
            std::size_t size = 0;
            if (pthread_attr_getstack(&attr, &addr, &size) == 0) low = static_cast<char*>(addr);
            pthread_attr_destroy(&attr);
        }
    }
    if (low == nullptr) return 0;
    char here;
    return static_cast<std::int64_t>(&here - low);
#else
    return 0;
#endif
}

Plan make_plan(const SmpCall& call) {
    Plan P;
    P.base = call.base;
    P.dtype = call.dtype;
    P.itemsize = call.dtype == DType::f32 ? 4 : 8;
    P.length = call.length;
    P.path_stride = call.path_stride;
    P.out_smp = call.out_smp;
    P.out_count = call.out_count;
    P.mode = call.mode;
    P.height = call.height;
    P.tol = call.tol;
    P.omit = call.omit;

    // Output strides (elements) of a C-contiguous result over the batch shape.
    std::int64_t out_stride[kMaxDims];
    std::int64_t acc = 1;
    for (int k = call.batch_ndim - 1; k >= 0; --k) {
        out_stride[k] = acc;
        acc *= call.batch_shape[k];
    }
    // Keep axes longer than 1, merging an axis into the next when both the input and
    // the output step over them as one.
    int n = 0;
    std::int64_t shape[kMaxDims], stride[kMaxDims], ostride[kMaxDims];
    for (int k = 0; k < call.batch_ndim; ++k) {
        if (call.batch_shape[k] == 1) continue;
        shape[n] = call.batch_shape[k];
        stride[n] = call.batch_stride[k];
        ostride[n] = out_stride[k];
        ++n;
    }
    int m = 0;
    for (int k = 0; k < n; ++k) {
        if (m > 0 && stride[m - 1] == shape[k] * stride[k] &&
            ostride[m - 1] == shape[k] * ostride[k]) {
            shape[m - 1] *= shape[k];
            stride[m - 1] = stride[k];
            ostride[m - 1] = ostride[k];
        } else {
            shape[m] = shape[k];
            stride[m] = stride[k];
            ostride[m] = ostride[k];
            ++m;
        }
    }
    // Lane axis: unit stride (either sign) if there is one, the longest such; else the
    // smallest |stride|.
    int lane = -1;
    for (int k = 0; k < m; ++k) {
        const std::int64_t a = stride[k] < 0 ? -stride[k] : stride[k];
        if (a != P.itemsize) continue;
        if (lane < 0 || shape[k] > shape[lane]) lane = k;
    }
    if (lane < 0) {
        for (int k = 0; k < m; ++k) {
            const std::int64_t a = stride[k] < 0 ? -stride[k] : stride[k];
            const std::int64_t b = lane < 0 ? 0 : (stride[lane] < 0 ? -stride[lane] : stride[lane]);
            if (lane < 0 || a < b) lane = k;
        }
    }
    if (lane >= 0) {
        P.lanes = shape[lane];
        P.lane_stride = stride[lane];
        P.lane_out_stride = ostride[lane];
        if (P.lane_stride < 0) {  // walk the lane axis backwards so its stride is positive
            P.base += (P.lanes - 1) * P.lane_stride;
            P.out_offset += (P.lanes - 1) * P.lane_out_stride;
            P.lane_stride = -P.lane_stride;
            P.lane_out_stride = -P.lane_out_stride;
        }
    }
    for (int k = 0; k < m; ++k) {
        if (k == lane) continue;
        P.outer_shape[P.outer_ndim] = shape[k];
        P.outer_stride[P.outer_ndim] = stride[k];
        P.outer_out_stride[P.outer_ndim] = ostride[k];
        P.outer_count *= shape[k];
        ++P.outer_ndim;
    }
    P.lanes_contiguous = P.lane_stride == P.itemsize;
    return P;
}

bool group_states_fit(const Target& target) {
    return stack_room() > target.group_stack_bytes + (std::int64_t{1} << 18);
}

void run_block_ranges(std::int64_t blocks, std::int64_t samples, int threads_wanted,
                      std::int64_t scratch_bytes,
                      const std::function<void(std::int64_t, std::int64_t, void*)>& fn) {
    std::int64_t threads = std::max<std::int64_t>(1, threads_wanted);
    threads = std::min<std::int64_t>(threads, std::max<std::int64_t>(1, samples >> 18));
    threads = std::min<std::int64_t>(threads, blocks);
    const std::size_t scratch_doubles = static_cast<std::size_t>(scratch_bytes / 8 + 8);
    parallel_for(threads, [&](std::int64_t i) {
        fn(blocks * i / threads, blocks * (i + 1) / threads, thread_scratch(scratch_doubles));
    });
}

void smp_batch(const SmpCall& call) {
    for (int k = 0; k < call.batch_ndim; ++k)
        if (call.batch_shape[k] == 0) return;
    Plan P = make_plan(call);
    const Target& target = simd::active();
    P.states_on_stack = group_states_fit(target);
    const std::int64_t W = P.dtype == DType::f32 ? target.block_lanes_f32 : target.block_lanes_f64;
    const std::int64_t blocks = P.outer_count * ((P.lanes + W - 1) / W);
    run_block_ranges(blocks, P.outer_count * P.lanes * P.length, call.threads,
                     target.scratch_bytes, [&](std::int64_t b0, std::int64_t b1, void* scratch) {
                         target.run_blocks(P, b0, b1, scratch);
                     });
}

namespace {
struct CollectSink {
    std::vector<std::int64_t>& positions;
    std::vector<double>& magnitudes;
    void operator()(std::int64_t at, double magnitude) {
        positions.push_back(at);
        magnitudes.push_back(magnitude);
    }
};

template <class In>
bool peaks_typed(const char* first, std::int64_t length, std::int64_t stride, Mode mode,
                 double height, double tol, bool omit, CollectSink& sink) {
    if (mode == Mode::local)
        return common::scalar_signal<In, Mode::local>(first, length, stride, height, tol, omit,
                                                      sink);
    return common::scalar_signal<In, Mode::run>(first, length, stride, height, tol, omit, sink);
}
}  // namespace

bool find_peaks(const char* first, DType dtype, std::int64_t length, std::int64_t stride,
                Mode mode, double height, double tol, bool omit,
                std::vector<std::int64_t>& positions, std::vector<double>& magnitudes) {
    CollectSink sink{positions, magnitudes};
    const bool ok = dtype == DType::f32
                        ? peaks_typed<float>(first, length, stride, mode, height, tol, omit, sink)
                        : peaks_typed<double>(first, length, stride, mode, height, tol, omit, sink);
    if (!ok) {
        positions.clear();
        magnitudes.clear();
    }
    return ok;
}

}  // namespace smpfast
