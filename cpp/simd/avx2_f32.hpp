// smpfast: AVX2 + FMA bodies: the float32 lane kernel (local mode, and run mode without a
// height) walked vector by vector, and the float32 tile packer (8 x 8 transposes).
// Same state, same decisions as Block<float>::rows in lanes.hpp:
// - y - 2 y1 and a2 + 2 a1 use FMA: 2 x is exact, so the single rounding is the same as
//   the reference's (y - (y1 + y1)); where y1 + y1 would overflow, the scale overflows
//   too and the lane is measured again by the scalar path (lanes.hpp, finish()).
// - Local mode: a lane has no peaks in two consecutive rows (a peak needs a fall right
//   after it), so two rows' peak values merge exactly (bitwise or) into one vector that
//   is widened to double once per pair of rows: the double sums are bit-identical.
// - Run mode without a height: every |d| is widened and summed in double, as in the
//   generic path (both equal the sum of |run sums| up to double rounding).
// One vector's state (~12 registers) stays in registers over all the rows of a call;
// the caller keeps the row chunks short enough to stay in L1 between the vectors.
#pragma once

#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
#include <immintrin.h>

#include <cstdint>

namespace smpfast {
namespace SMPFAST_NS {

#define SMPFAST_HAVE_AVX2_F32 1
#ifndef SMPFAST_PACK_AHEAD
#define SMPFAST_PACK_AHEAD 256
#endif
constexpr std::int64_t kPackAhead = SMPFAST_PACK_AHEAD;  // bytes ahead along each signal

struct Avx2F32 {
    static inline void transpose8(__m256 r[8]) {
        __m256 t[8];
        for (int i = 0; i < 4; ++i) {
            t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        __m256 s[8];
        for (int i = 0; i < 2; ++i) {
            s[4 * i + 0] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0x44);
            s[4 * i + 1] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0xee);
            s[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
            s[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xee);
        }
        for (int k = 0; k < 4; ++k) {
            r[k] = _mm256_permute2f128_ps(s[k], s[4 + k], 0x20);
            r[4 + k] = _mm256_permute2f128_ps(s[k], s[4 + k], 0x31);
        }
    }

    // Pack rows [0, nrows) of W = 8 * UU signals that are contiguous along the path
    // (sample stride 4 bytes) and `lane_stride` bytes apart into a row-major tile (one
    // row of W samples per t), 8 x 8 transposes at a time; returns the rows packed (a
    // multiple of 8; the caller packs the rest). `next` (may be null) walks linearly
    // over memory the caller reads next: 256 bytes of it are prefetched per transpose.
    template <int UU>
    static inline std::int64_t pack_contiguous(float* tile, const char* src0,
                                               std::int64_t lane_stride, std::int64_t nrows,
                                               const char*& next) {
        std::int64_t t = 0;
        for (; t + 8 <= nrows; t += 8) {
            for (int u = 0; u < UU; ++u) {
                __m256 r[8];
                const char* src = src0 + (u * 8) * lane_stride + t * 4;
                if (next != nullptr) {
                    for (int j = 0; j < 4; ++j) _mm_prefetch(next + 64 * j, _MM_HINT_T1);
                    next += 256;
                }
                for (int j = 0; j < 8; ++j) {
                    _mm_prefetch(src + j * lane_stride + kPackAhead, _MM_HINT_T0);
                    r[j] = _mm256_loadu_ps(reinterpret_cast<const float*>(src + j * lane_stride));
                }
                transpose8(r);
                for (int k = 0; k < 8; ++k) _mm256_storeu_ps(tile + (t + k) * 8 * UU + u * 8, r[k]);
            }
        }
        return t;
    }

    // Advance vector u of state S over `nrows` rows (`stride` bytes apart) from `row`
    // (which already points at vector u's samples); prefetch `ahead` bytes further when
    // `ahead` != 0 (one line per row: call it for the first vector of a cache line).
    template <Mode M, class State>
    static inline void rows(State& S, int u, const char* row, std::int64_t stride,
                            std::int64_t nrows, float tol, std::int64_t ahead) {
        if (ahead != 0)
            rows<M, true>(S, u, row, stride, nrows, tol, ahead);
        else
            rows<M, false>(S, u, row, stride, nrows, tol, ahead);
    }

    template <Mode M, bool PF, class State>
    static inline void rows(State& S, int u, const char* row, std::int64_t stride,
                            std::int64_t nrows, float tol, std::int64_t ahead) {
        __m256 y1 = (__m256)S.y1[u], y2 = (__m256)S.y2[u];
        __m256 a1 = (__m256)S.a1[u], a2 = (__m256)S.a2[u];
        __m256 p = M == Mode::local ? (__m256)S.p[u] : (__m256)S.pz[u];
        __m256 ss = (__m256)S.ss[u];
        __m256i cnt = (__m256i)S.cnt[u];
        __m256d lo = (__m256d)S.acc[u][0], hi = (__m256d)S.acc[u][1];
        __m256 rising = (__m256)S.rising[u];
        const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
        const __m256 vtol = _mm256_set1_ps(tol);
        const __m256 two = _mm256_set1_ps(2.0f);
        const __m256 zero = _mm256_setzero_ps();
        // run mode: the signs of the previous floored d (p holds the previous d)
        __m256 ppos = _mm256_cmp_ps(p, zero, _CMP_GT_OQ);
        __m256 pneg = _mm256_cmp_ps(p, zero, _CMP_LT_OQ);
        // One row. Local mode: returns the previous |d| where it is a peak, else 0.
        // Run mode: returns |d| above the noise floor (0 under it).
        auto step = [&](const char* r) __attribute__((always_inline)) -> __m256 {
            if (PF) _mm_prefetch(r + ahead, _MM_HINT_T0);
            const __m256 y = _mm256_loadu_ps(reinterpret_cast<const float*>(r));
            const __m256 ay = _mm256_and_ps(y, absmask);
            const __m256 d = _mm256_add_ps(_mm256_fnmadd_ps(two, y1, y), y2);
            const __m256 sc = _mm256_add_ps(_mm256_fmadd_ps(two, a1, a2), ay);
            ss = _mm256_add_ps(ss, sc);
            const __m256 ad = _mm256_and_ps(d, absmask);
            const __m256 keep = _mm256_cmp_ps(ad, _mm256_mul_ps(vtol, sc), _CMP_NLT_UQ);
            __m256 out;
            if (M == Mode::local) {
                const __m256 a = _mm256_and_ps(keep, ad);
                const __m256 gt = _mm256_cmp_ps(a, p, _CMP_GT_OQ);
                const __m256 lt = _mm256_cmp_ps(a, p, _CMP_LT_OQ);
                const __m256 peak = _mm256_and_ps(lt, rising);
                cnt = _mm256_sub_epi32(cnt, _mm256_castps_si256(peak));
                rising = _mm256_andnot_ps(lt, _mm256_or_ps(rising, gt));
                out = _mm256_and_ps(peak, p);
                p = a;
            } else {
                // A run starts at a nonzero d whose sign differs from the previous d's.
                const __m256 dz = _mm256_and_ps(keep, d);
                const __m256 pos = _mm256_cmp_ps(dz, zero, _CMP_GT_OQ);
                const __m256 neg = _mm256_cmp_ps(dz, zero, _CMP_LT_OQ);
                const __m256 start =
                    _mm256_or_ps(_mm256_andnot_ps(ppos, pos), _mm256_andnot_ps(pneg, neg));
                cnt = _mm256_sub_epi32(cnt, _mm256_castps_si256(start));
                ppos = pos;
                pneg = neg;
                out = _mm256_and_ps(keep, ad);
            }
            y2 = y1;
            y1 = y;
            a2 = a1;
            a1 = ay;
            return out;
        };
        auto flush = [&](__m256 got) __attribute__((always_inline)) {
            lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(got)));
            hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(got, 1)));
        };
        std::int64_t t = 0;
        for (; t + 1 < nrows; t += 2, row += 2 * stride) {
            const __m256 g0 = step(row);
            const __m256 g1 = step(row + stride);
            if (M == Mode::local) {
                flush(_mm256_or_ps(g0, g1));
            } else {
                flush(g0);
                flush(g1);
            }
        }
        if (t < nrows) flush(step(row));
        if (M == Mode::run)  // the sign of the last floored d is all the state needs
            p = _mm256_or_ps(_mm256_and_ps(ppos, _mm256_set1_ps(1.0f)),
                             _mm256_and_ps(pneg, _mm256_set1_ps(-1.0f)));
        typedef decltype(S.y1[u]) VR;
        typedef typename std::remove_reference<VR>::type V;
        typedef typename std::remove_reference<decltype(S.cnt[u])>::type Mk;
        typedef typename std::remove_reference<decltype(S.acc[u][0])>::type VD;
        S.y1[u] = (V)y1;
        S.y2[u] = (V)y2;
        S.a1[u] = (V)a1;
        S.a2[u] = (V)a2;
        if (M == Mode::local)
            S.p[u] = (V)p;
        else
            S.pz[u] = (V)p;
        S.ss[u] = (V)ss;
        S.cnt[u] = (Mk)cnt;
        S.acc[u][0] = (VD)lo;
        S.acc[u][1] = (VD)hi;
        S.rising[u] = (Mk)rising;
    }
};

}  // namespace SMPFAST_NS
}  // namespace smpfast
#endif
