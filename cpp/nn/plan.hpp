// smpfast: plain descriptions of the building-block calls (no code, no Python).
// Inputs are C-contiguous (the binding copies other layouts), outputs C-contiguous.
#pragma once

#include <cstdint>

#include "../smp/plan.hpp"

namespace smpfast {

constexpr std::int64_t kConvOutBlock = 12;       // output channels per convolution task
constexpr std::int64_t kActChunk = std::int64_t{1} << 16;  // elements per activation task

struct ConvPlan {
    DType dtype = DType::f32;
    const void* x = nullptr;       // (N, C, H, W)
    const void* w = nullptr;       // (O, C / groups, KH, KW)
    const void* bias = nullptr;    // (O) or null
    void* out = nullptr;           // (N, O, HO, WO)
    std::int64_t N = 0, C = 0, H = 0, W = 0, O = 0, KH = 0, KW = 0, HO = 0, WO = 0;
    std::int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
};

// Unit column stride: the register-blocked convolution path (nn/kernels.hpp), which reads
// a zero-padded copy of the input rows an output row sees.
inline bool conv_vector_path(const ConvPlan& P) { return P.sw == 1; }

// Row length of that copy: pw zeros, W values, pw zeros and room for the last column
// block's vectors (at most 32 elements past the padded row; 2 vectors of 16 floats).
inline std::int64_t conv_padded_width(const ConvPlan& P) { return P.W + 2 * P.pw + 32; }

// Per-thread scratch of a convolution task, in elements of the input dtype.
inline std::int64_t conv_scratch_elements(const ConvPlan& P) {
    if (!conv_vector_path(P)) return P.WO;
    return (P.C / P.groups) * P.KH * conv_padded_width(P);
}

struct PoolPlan {
    DType dtype = DType::f32;
    const void* x = nullptr;       // (P, H, W): P = N * C planes
    void* out = nullptr;           // (P, HO, WO)
    std::int64_t* indices = nullptr;  // (P, HO, WO) flat indices into H * W, or null
    std::int64_t P = 0, H = 0, W = 0, HO = 0, WO = 0, KH = 1, KW = 1;
    std::int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
    bool count_include_pad = true;  // average pooling
};

// Elementwise activations: out[i] = f(x[i]) (PReLU: per-channel slope over planes).
struct ActPlan {
    DType dtype = DType::f32;
    const void* x = nullptr;
    void* out = nullptr;
    std::int64_t n = 0;            // elements
    double slope = 0.0;            // leaky_relu
    const void* weight = nullptr;  // prelu slopes (channels), or null
    std::int64_t channels = 1;     // prelu: x is (outer, channels, inner)
    std::int64_t inner = 1;
};

}  // namespace smpfast
