// smpfast: building-block kernels (direct convolution, pooling, activations); no Python.
//
// Compiled once per SIMD target inside namespace smpfast::SMPFAST_NS (simd/target.cpp).
// Each *_tasks function computes tasks [t0, t1) of a plan; the driver (nn/driver.cpp)
// splits tasks over threads. Semantics follow torch.nn.functional:
// - max pooling scans a window row-major and takes a value when `v > max || isnan(v)`
//   (first maximum wins, NaN propagates); indices are flat into the H * W plane;
// - average pooling divides by the window clipped to the padded input
//   (count_include_pad) or to the input;
// - relu: x < 0 ? 0 : x; leaky_relu: x > 0 ? x : x * slope; prelu: x > 0 ? x : w[c] * x
//   (NaN propagates, signs of zero as torch's).
#pragma once

#include <cstdint>
#include <cstring>
#include <utility>

#include "plan.hpp"

#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif

namespace smpfast {
namespace SMPFAST_NS {
namespace nn {

// (no std:: templates in per-target code: their out-of-line copies could be shared
// across ISA targets by the linker)
inline std::int64_t min_i64(std::int64_t a, std::int64_t b) { return a < b ? a : b; }

// ---- portable vectors (GCC vector extensions, one SIMD register of the target)
template <class E>
struct NnVec {
    typedef E v __attribute__((vector_size(SMPFAST_VBYTES)));
    static constexpr int n = SMPFAST_VBYTES / static_cast<int>(sizeof(E));
};

template <class V, class E>
inline V load_vec(const E* p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
}

template <class V, class E>
inline void store_vec(E* p, V v) {
    std::memcpy(p, &v, sizeof(V));
}

// acc + s * x, fused where the target has FMA (AVX-512; AVX2, whose target also
// requires FMA), else rounded twice as the scalar code (the build uses -ffp-contract=off).
template <class V, class E>
inline V madd(V acc, E s, V x) {
#if defined(__AVX512F__)
    if constexpr (sizeof(V) == 64 && sizeof(E) == 4)
        return _mm512_fmadd_ps(_mm512_set1_ps(s), x, acc);
    else if constexpr (sizeof(V) == 64 && sizeof(E) == 8)
        return _mm512_fmadd_pd(_mm512_set1_pd(s), x, acc);
#endif
#if defined(__FMA__)
    if constexpr (sizeof(V) == 32 && sizeof(E) == 4)
        return _mm256_fmadd_ps(_mm256_set1_ps(s), x, acc);
    else if constexpr (sizeof(V) == 32 && sizeof(E) == 8)
        return _mm256_fmadd_pd(_mm256_set1_pd(s), x, acc);
#endif
    return acc + s * x;
}

// ------------------------------------------------------------------------ convolution
// Task = (n, group, output channel o, output row i); tasks are numbered with i fastest.
template <class E>
inline void conv_row_generic(const ConvPlan& P, std::int64_t n, std::int64_t g, std::int64_t o,
                             std::int64_t i, E* acc) {
    const E* x = static_cast<const E*>(P.x);
    const E* w = static_cast<const E*>(P.w);
    const std::int64_t Cg = P.C / P.groups;
    const E b = P.bias ? static_cast<const E*>(P.bias)[o] : E(0);
    for (std::int64_t j = 0; j < P.WO; ++j) acc[j] = b;
    for (std::int64_t cl = 0; cl < Cg; ++cl) {
        const std::int64_t c = g * Cg + cl;
        for (std::int64_t kh = 0; kh < P.KH; ++kh) {
            const std::int64_t ih = i * P.sh - P.ph + kh * P.dh;
            if (ih < 0 || ih >= P.H) continue;
            const E* xrow = x + ((n * P.C + c) * P.H + ih) * P.W;
            const E* wk = w + ((o * Cg + cl) * P.KH + kh) * P.KW;
            for (std::int64_t kw = 0; kw < P.KW; ++kw) {
                const E wv = wk[kw];
                const std::int64_t off = kw * P.dw - P.pw;
                // valid j: 0 <= j * sw + off < W
                std::int64_t j0 = 0;
                if (off < 0) j0 = (-off + P.sw - 1) / P.sw;
                std::int64_t j1 = P.WO;
                if (P.W - off <= 0) {
                    j1 = 0;
                } else {
                    const std::int64_t lim = (P.W - off + P.sw - 1) / P.sw;  // j < lim
                    if (lim < j1) j1 = lim;
                }
                if (P.sw == 1) {
                    const E* xs = xrow + off;
                    for (std::int64_t j = j0; j < j1; ++j) acc[j] += wv * xs[j];
                } else {
                    for (std::int64_t j = j0; j < j1; ++j) acc[j] += wv * xrow[j * P.sw + off];
                }
            }
        }
    }
    E* out = static_cast<E*>(P.out) + ((n * P.O + o) * P.HO + i) * P.WO;
    std::memcpy(out, acc, static_cast<std::size_t>(P.WO) * sizeof(E));
}

// Register-blocked rows for unit column stride: OB output channels x JB vectors of
// columns [jb, jb + JB * lanes) of output row i, reading the zero-padded copy `xw` of the
// input rows this output row sees (see conv_window). Same order of operations per output
// element as conv_row_generic (bias, then channel, kernel row, kernel column).
// KWC: the kernel width when known at compile time (3), else 0.
template <class E, int OB, int JB, int KWC>
inline void conv_block_vec(const ConvPlan& P, const E* xw, std::int64_t Wp, std::int64_t kh0,
                           std::int64_t kh1, std::int64_t n, std::int64_t o0, std::int64_t i,
                           std::int64_t jb) {
    using V = typename NnVec<E>::v;
    constexpr int L = NnVec<E>::n;
    const std::int64_t KW = KWC > 0 ? KWC : P.KW;
    const E* w = static_cast<const E*>(P.w);
    const E* bias = static_cast<const E*>(P.bias);
    const std::int64_t Cg = P.C / P.groups;
    const std::int64_t wstride_o = Cg * P.KH * KW;
    V acc[OB][JB];
    for (int ob = 0; ob < OB; ++ob) {
        const E b = bias ? bias[o0 + ob] : E(0);
        for (int v = 0; v < JB; ++v)
            for (int l = 0; l < L; ++l) acc[ob][v][l] = b;
    }
    const std::int64_t nkh = kh1 - kh0;
    for (std::int64_t cl = 0; cl < Cg; ++cl) {
        for (std::int64_t kh = kh0; kh < kh1; ++kh) {
            const E* xr = xw + (cl * nkh + (kh - kh0)) * Wp + jb;
            const E* wk = w + (o0 * Cg + cl) * P.KH * KW + kh * KW;
            for (std::int64_t kw = 0; kw < KW; ++kw) {
                const E* xs = xr + kw * P.dw;
                V xv[JB];
                for (int v = 0; v < JB; ++v) xv[v] = load_vec<V>(xs + L * v);
                for (int ob = 0; ob < OB; ++ob) {
                    const E s = wk[ob * wstride_o + kw];
                    for (int v = 0; v < JB; ++v) acc[ob][v] = madd(acc[ob][v], s, xv[v]);
                }
            }
        }
    }
    E* out = static_cast<E*>(P.out) + ((n * P.O + o0) * P.HO + i) * P.WO + jb;
    for (int v = 0; v < JB; ++v) {
        const std::int64_t left = P.WO - jb - L * v;
        if (left <= 0) break;
        for (int ob = 0; ob < OB; ++ob) {
            E* dst = out + ob * P.HO * P.WO + L * v;
            if (left >= L) {
                store_vec(dst, acc[ob][v]);
            } else {
                E tmp[L];
                store_vec(tmp, acc[ob][v]);
                std::memcpy(dst, tmp, static_cast<std::size_t>(left) * sizeof(E));
            }
        }
    }
}

// Output channels o .. o + count of row i, column block jb, in register blocks. Register
// budget (16 vector registers on SSE/AVX2): OB * JB accumulators + JB inputs + 2.
template <class E, int JB, int KWC>
inline void conv_channels_vec(const ConvPlan& P, const E* xw, std::int64_t Wp, std::int64_t kh0,
                              std::int64_t kh1, std::int64_t n, std::int64_t o, std::int64_t i,
                              std::int64_t jb, std::int64_t count) {
    constexpr int big = JB == 1 ? 12 : 6;
    constexpr int mid = JB == 1 ? 8 : 4;
    for (; count >= big; count -= big, o += big)
        conv_block_vec<E, big, JB, KWC>(P, xw, Wp, kh0, kh1, n, o, i, jb);
    for (; count >= mid; count -= mid, o += mid)
        conv_block_vec<E, mid, JB, KWC>(P, xw, Wp, kh0, kh1, n, o, i, jb);
    for (; count >= 2; count -= 2, o += 2)
        conv_block_vec<E, 2, JB, KWC>(P, xw, Wp, kh0, kh1, n, o, i, jb);
    for (; count >= 1; count -= 1, o += 1)
        conv_block_vec<E, 1, JB, KWC>(P, xw, Wp, kh0, kh1, n, o, i, jb);
}

// Copy the input rows output row i sees (channels of group g, kernel rows kh0 .. kh1 - 1
// inside the input) into xw, each row zero-padded: pw zeros, the W values, then zeros up
// to Wp (the column blocks of the last vectors read past the output row's end).
template <class E>
inline void conv_window(const ConvPlan& P, std::int64_t n, std::int64_t g, std::int64_t i,
                        std::int64_t kh0, std::int64_t kh1, std::int64_t Wp, E* xw) {
    const E* x = static_cast<const E*>(P.x);
    const std::int64_t Cg = P.C / P.groups;
    const std::int64_t nkh = kh1 - kh0;
    for (std::int64_t cl = 0; cl < Cg; ++cl) {
        const std::int64_t c = g * Cg + cl;
        for (std::int64_t kh = kh0; kh < kh1; ++kh) {
            const std::int64_t ih = i * P.sh - P.ph + kh * P.dh;
            E* row = xw + (cl * nkh + (kh - kh0)) * Wp;
            for (std::int64_t q = 0; q < P.pw; ++q) row[q] = E(0);
            std::memcpy(row + P.pw, x + ((n * P.C + c) * P.H + ih) * P.W,
                        static_cast<std::size_t>(P.W) * sizeof(E));
            for (std::int64_t q = P.pw + P.W; q < Wp; ++q) row[q] = E(0);
        }
    }
}

template <class E, int KWC>
inline void conv_task_vec(const ConvPlan& P, std::int64_t n, std::int64_t g, std::int64_t o0,
                          std::int64_t i, std::int64_t count, E* xw) {
    constexpr int L = NnVec<E>::n;
    std::int64_t kh0 = 0, kh1 = P.KH;
    while (kh0 < kh1 && i * P.sh - P.ph + kh0 * P.dh < 0) ++kh0;
    while (kh1 > kh0 && i * P.sh - P.ph + (kh1 - 1) * P.dh >= P.H) --kh1;
    const std::int64_t Wp = conv_padded_width(P);
    conv_window<E>(P, n, g, i, kh0, kh1, Wp, xw);
    std::int64_t jb = 0;
    // two vectors of columns per block while at least two remain, then one
    for (; jb + L < P.WO; jb += 2 * L)
        conv_channels_vec<E, 2, KWC>(P, xw, Wp, kh0, kh1, n, o0, i, jb, count);
    for (; jb < P.WO; jb += L)
        conv_channels_vec<E, 1, KWC>(P, xw, Wp, kh0, kh1, n, o0, i, jb, count);
}

constexpr std::int64_t kConvOB = kConvOutBlock;

// Task = (n, group, block of kConvOutBlock output channels, output row i), i fastest.
template <class E>
inline void conv_tasks_typed(const ConvPlan& P, std::int64_t t0, std::int64_t t1, void* scratch) {
    const std::int64_t Og = P.O / P.groups;
    const std::int64_t nob = (Og + kConvOB - 1) / kConvOB;
    E* buf = static_cast<E*>(scratch);  // conv_scratch_elements(P)
    const bool vec = conv_vector_path(P);
    for (std::int64_t t = t0; t < t1; ++t) {
        std::int64_t r = t;
        const std::int64_t i = r % P.HO;
        r /= P.HO;
        const std::int64_t ob = r % nob;
        r /= nob;
        const std::int64_t g = r % P.groups;
        const std::int64_t n = r / P.groups;
        const std::int64_t o0 = g * Og + ob * kConvOB;
        std::int64_t count = Og - ob * kConvOB;
        if (count > kConvOB) count = kConvOB;
        if (vec) {
            if (P.KW == 3)
                conv_task_vec<E, 3>(P, n, g, o0, i, count, buf);
            else
                conv_task_vec<E, 0>(P, n, g, o0, i, count, buf);
            continue;
        }
        for (std::int64_t o = o0; o < o0 + count; ++o) conv_row_generic<E>(P, n, g, o, i, buf);
    }
}

inline void conv_tasks(const ConvPlan& P, std::int64_t t0, std::int64_t t1, void* scratch) {
    if (P.dtype == DType::f32)
        conv_tasks_typed<float>(P, t0, t1, scratch);
    else
        conv_tasks_typed<double>(P, t0, t1, scratch);
}

// ------------------------------------------------------------------------ pooling
#if defined(__AVX512F__)
// 2x2 windows of rows r0, r1 (columns 2j, 2j+1) for j in [0, wo) in blocks of 16; returns
// the first j not done. Same rule as the scalar loop: candidates in the order
// (0,0), (0,1), (1,0), (1,1); take a candidate when it is greater or NaN.
inline std::int64_t max_pool_2x2_avx512(const float* r0, const float* r1, std::int64_t base,
                                        std::int64_t width, std::int64_t wo, float* out,
                                        std::int64_t* idx) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i lane2 = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                                               11, 12, 13, 14, 15),
                                             _mm512_set1_epi32(2));
    std::int64_t j = 0;
    for (; j + 16 <= wo; j += 16) {
        const std::int64_t c = 2 * j;
        const __m512 a0 = _mm512_loadu_ps(r0 + c), a1 = _mm512_loadu_ps(r0 + c + 16);
        const __m512 b0 = _mm512_loadu_ps(r1 + c), b1 = _mm512_loadu_ps(r1 + c + 16);
        const __m512 v[4] = {_mm512_permutex2var_ps(a0, even, a1), _mm512_permutex2var_ps(a0, odd, a1),
                             _mm512_permutex2var_ps(b0, even, b1), _mm512_permutex2var_ps(b0, odd, b1)};
        __m512 best = v[0];
        __m512i which = _mm512_setzero_si512();  // 0..3: candidate taken
        for (int k = 1; k < 4; ++k) {
            const __mmask16 take = _kor_mask16(_mm512_cmp_ps_mask(v[k], best, _CMP_GT_OQ),
                                               _mm512_cmp_ps_mask(v[k], v[k], _CMP_UNORD_Q));
            best = _mm512_mask_mov_ps(best, take, v[k]);
            which = _mm512_mask_mov_epi32(which, take, _mm512_set1_epi32(k));
        }
        _mm512_storeu_ps(out + j, best);
        if (idx != nullptr) {
            // flat index = base + (k >> 1) * width + 2 j + (k & 1)
            const __m512i row = _mm512_srli_epi32(which, 1);
            const __m512i col = _mm512_add_epi32(lane2, _mm512_and_si512(which, _mm512_set1_epi32(1)));
            const __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(row));
            const __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(row, 1));
            const __m512i clo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(col));
            const __m512i chi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(col, 1));
            const __m512i start = _mm512_set1_epi64(base + c);
            const __m512i wv = _mm512_set1_epi64(width);
            _mm512_storeu_si512(idx + j, _mm512_add_epi64(_mm512_add_epi64(start, clo),
                                                          _mm512_mullo_epi64(lo, wv)));
            _mm512_storeu_si512(idx + j + 8, _mm512_add_epi64(_mm512_add_epi64(start, chi),
                                                              _mm512_mullo_epi64(hi, wv)));
        }
    }
    return j;
}
#endif

template <class V, std::size_t... I>
inline V even_lanes(V a, V b, std::index_sequence<I...>) {
    return __builtin_shufflevector(a, b, static_cast<int>(2 * I)...);
}
template <class V, std::size_t... I>
inline V odd_lanes(V a, V b, std::index_sequence<I...>) {
    return __builtin_shufflevector(a, b, static_cast<int>(2 * I + 1)...);
}

// The pooling update rule on vectors: take v where v > best or v is NaN.
template <class V>
inline V max_take(V best, V v) {
    return ((v > best) | (v != v)) ? v : best;
}

// Values only, windows of 1 x 2 (R = 1) or 2 x 2 (R = 2) at column stride 2 fully inside
// the rows r0 (and r0 + W): outputs j in [0, wo) in blocks of one vector; returns the
// first j not done. Taps in the scalar order (0,0), (0,1), (1,0), (1,1), so ties and
// NaNs resolve as in the scalar loop (the first maximum, the last NaN).
template <class E, int R>
inline std::int64_t max_pool_pairs_vec(const E* r0, std::int64_t width, std::int64_t wo, E* out) {
    using V = typename NnVec<E>::v;
    constexpr int L = NnVec<E>::n;
    constexpr auto lanes = std::make_index_sequence<static_cast<std::size_t>(L)>{};
    std::int64_t j = 0;
    for (; j + L <= wo; j += L) {
        const E* p = r0 + 2 * j;
        V a = load_vec<V>(p), b = load_vec<V>(p + L);
        V best = max_take(even_lanes(a, b, lanes), odd_lanes(a, b, lanes));
        if constexpr (R == 2) {
            a = load_vec<V>(p + width);
            b = load_vec<V>(p + width + L);
            best = max_take(best, even_lanes(a, b, lanes));
            best = max_take(best, odd_lanes(a, b, lanes));
        }
        store_vec(out + j, best);
    }
    return j;
}

// Task = (plane, output row).
template <class E>
inline void max_pool_tasks_typed(const PoolPlan& P, std::int64_t t0, std::int64_t t1) {
    const E* x = static_cast<const E*>(P.x);
    E* out = static_cast<E*>(P.out);
    for (std::int64_t t = t0; t < t1; ++t) {
        const std::int64_t p = t / P.HO, i = t % P.HO;
        const E* plane = x + p * P.H * P.W;
        E* orow = out + (p * P.HO + i) * P.WO;
        std::int64_t* irow = P.indices ? P.indices + (p * P.HO + i) * P.WO : nullptr;
        const std::int64_t h0 = i * P.sh - P.ph;
        if (irow == nullptr && (P.KH == 1 || (P.KH == 2 && P.dh == 1)) && P.KW == 2 &&
            P.sw == 2 && P.dw == 1 && P.pw == 0 && h0 >= 0 && h0 + P.KH - 1 < P.H &&
            2 * P.WO <= P.W) {
            // values only, 1x2 or 2x2 windows inside the input (max_pool1d(2), max_pool2d(2))
            const E* r0 = plane + h0 * P.W;
            std::int64_t j = P.KH == 2 ? max_pool_pairs_vec<E, 2>(r0, P.W, P.WO, orow)
                                       : max_pool_pairs_vec<E, 1>(r0, P.W, P.WO, orow);
            for (; j < P.WO; ++j) {
                E best = r0[2 * j];
                const E v1 = r0[2 * j + 1];
                if (v1 > best || v1 != v1) best = v1;
                if (P.KH == 2) {
                    const E v2 = r0[P.W + 2 * j], v3 = r0[P.W + 2 * j + 1];
                    if (v2 > best || v2 != v2) best = v2;
                    if (v3 > best || v3 != v3) best = v3;
                }
                orow[j] = best;
            }
            continue;
        }
        if (P.KH == 2 && P.KW == 2 && P.sw == 2 && P.dh == 1 && P.dw == 1 && P.pw == 0 &&
            h0 >= 0 && h0 + 1 < P.H && 2 * P.WO <= P.W) {
            // 2x2, stride 2 in width, window fully inside: the common case, branch-light.
            const E* r0 = plane + h0 * P.W;
            const E* r1 = r0 + P.W;
            std::int64_t j = 0;
#if defined(__AVX512F__)
            if constexpr (sizeof(E) == 4) j = max_pool_2x2_avx512(r0, r1, h0 * P.W, P.W, P.WO, orow, irow);
#endif
            for (; j < P.WO; ++j) {
                const std::int64_t c = 2 * j;
                E best = r0[c];
                std::int64_t at = h0 * P.W + c;
                const E v1 = r0[c + 1], v2 = r1[c], v3 = r1[c + 1];
                if (v1 > best || v1 != v1) { best = v1; at = h0 * P.W + c + 1; }
                if (v2 > best || v2 != v2) { best = v2; at = (h0 + 1) * P.W + c; }
                if (v3 > best || v3 != v3) { best = v3; at = (h0 + 1) * P.W + c + 1; }
                orow[j] = best;
                if (irow) irow[j] = at;
            }
            continue;
        }
        // torch's loop: the window's rows/columns clipped to the input, the running max
        // starting at -inf with the index of the first tap kept (even if the window is
        // empty: the index then points past the window, as torch's does).
        std::int64_t ih0 = h0;
        const std::int64_t ih1 = min_i64(h0 + (P.KH - 1) * P.dh + 1, P.H);
        while (ih0 < 0) ih0 += P.dh;
        for (std::int64_t j = 0; j < P.WO; ++j) {
            std::int64_t iw0 = j * P.sw - P.pw;
            const std::int64_t iw1 = min_i64(iw0 + (P.KW - 1) * P.dw + 1, P.W);
            while (iw0 < 0) iw0 += P.dw;
            E best = -static_cast<E>(__builtin_inf());
            std::int64_t at = ih0 * P.W + iw0;
            for (std::int64_t ih = ih0; ih < ih1; ih += P.dh) {
                for (std::int64_t iw = iw0; iw < iw1; iw += P.dw) {
                    const E v = plane[ih * P.W + iw];
                    if (v > best || v != v) {
                        best = v;
                        at = ih * P.W + iw;
                    }
                }
            }
            orow[j] = best;
            if (irow) irow[j] = at;
        }
    }
}

template <class E>
inline void avg_pool_tasks_typed(const PoolPlan& P, std::int64_t t0, std::int64_t t1) {
    const E* x = static_cast<const E*>(P.x);
    E* out = static_cast<E*>(P.out);
    for (std::int64_t t = t0; t < t1; ++t) {
        const std::int64_t p = t / P.HO, i = t % P.HO;
        const E* plane = x + p * P.H * P.W;
        E* orow = out + (p * P.HO + i) * P.WO;
        std::int64_t hs = i * P.sh - P.ph;
        std::int64_t he = hs + P.KH;
        if (he > P.H + P.ph) he = P.H + P.ph;
        const std::int64_t hpad = he - hs;
        if (hs < 0) hs = 0;
        if (he > P.H) he = P.H;
        for (std::int64_t j = 0; j < P.WO; ++j) {
            std::int64_t ws = j * P.sw - P.pw;
            std::int64_t we = ws + P.KW;
            if (we > P.W + P.pw) we = P.W + P.pw;
            const std::int64_t pool = hpad * (we - ws);
            if (ws < 0) ws = 0;
            if (we > P.W) we = P.W;
            E sum = 0;
            for (std::int64_t ih = hs; ih < he; ++ih)
                for (std::int64_t iw = ws; iw < we; ++iw) sum += plane[ih * P.W + iw];
            const std::int64_t divisor = P.count_include_pad ? pool : (he - hs) * (we - ws);
            orow[j] = divisor > 0 ? sum / static_cast<E>(divisor) : E(0);
        }
    }
}

inline void max_pool_tasks(const PoolPlan& P, std::int64_t t0, std::int64_t t1, void*) {
    if (P.dtype == DType::f32)
        max_pool_tasks_typed<float>(P, t0, t1);
    else
        max_pool_tasks_typed<double>(P, t0, t1);
}

inline void avg_pool_tasks(const PoolPlan& P, std::int64_t t0, std::int64_t t1, void*) {
    if (P.dtype == DType::f32)
        avg_pool_tasks_typed<float>(P, t0, t1);
    else
        avg_pool_tasks_typed<double>(P, t0, t1);
}

// ------------------------------------------------------------------------ activations
// Task = a chunk of kActChunk elements. kind: 0 relu, 1 leaky_relu, 2 prelu.

template <class E>
inline void act_tasks_typed(const ActPlan& P, int kind, std::int64_t t0, std::int64_t t1) {
    const E* x = static_cast<const E*>(P.x);
    E* out = static_cast<E*>(P.out);
    const E slope = static_cast<E>(P.slope);
    const E* pw = static_cast<const E*>(P.weight);
    for (std::int64_t t = t0; t < t1; ++t) {
        const std::int64_t a = t * kActChunk;
        const std::int64_t b = a + kActChunk < P.n ? a + kActChunk : P.n;
        if (kind == 0) {
            for (std::int64_t k = a; k < b; ++k) {
                const E v = x[k];
                out[k] = v < E(0) ? E(0) : v;  // NaN stays NaN
            }
        } else if (kind == 1) {
            for (std::int64_t k = a; k < b; ++k) {
                const E v = x[k];
                out[k] = v > E(0) ? v : v * slope;  // torch: -0.0 * slope keeps its sign rule
            }
        } else {
            // walk (channel, inner) runs: one slope per run, no division per element
            std::int64_t k = a;
            while (k < b) {
                const E s = pw[(k / P.inner) % P.channels];
                const std::int64_t run_end = (k / P.inner + 1) * P.inner;
                const std::int64_t e = run_end < b ? run_end : b;
                for (; k < e; ++k) {
                    const E v = x[k];
                    out[k] = v > E(0) ? v : s * v;
                }
            }
        }
    }
}

template <int Kind>
inline void act_tasks(const ActPlan& P, std::int64_t t0, std::int64_t t1, void*) {
    if (P.dtype == DType::f32)
        act_tasks_typed<float>(P, Kind, t0, t1);
    else
        act_tasks_typed<double>(P, Kind, t0, t1);
}

}  // namespace nn
}  // namespace SMPFAST_NS
}  // namespace smpfast
