// smpfast: AVX-512 bodies: the float32 lane kernel (local mode, and run mode without a
// height) and the float32 / float64 tile packers (16 x 16 and 8 x 8 transposes). Same state, same decisions as Block<float>::rows in lanes.hpp, written with
// intrinsics so that masks stay in k registers and counts/sums use masked adds.
// y - 2 y1 and a2 + 2 a1 use FMA: 2 x is exact, so the single rounding is the same as
// the reference's (y - (y1 + y1)).
#pragma once

#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>

#include <cstdint>

namespace smpfast {
namespace SMPFAST_NS {

#define SMPFAST_HAVE_AVX512_F32 1
#ifndef SMPFAST_PACK_AHEAD
#define SMPFAST_PACK_AHEAD 256
#endif
constexpr std::int64_t kPackAhead = SMPFAST_PACK_AHEAD;  // bytes ahead along each signal

struct Avx512F32 {
    template <class T, class V>
    static inline void put(T& dst, V v) {
        dst = (T)v;
    }

    static inline void transpose16(__m512 r[16]) {
        __m512 t[16];
        for (int i = 0; i < 8; ++i) {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        for (int i = 0; i < 4; ++i) {
            const __m512d t0 = _mm512_castps_pd(t[4 * i]), t1 = _mm512_castps_pd(t[4 * i + 1]);
            const __m512d t2 = _mm512_castps_pd(t[4 * i + 2]), t3 = _mm512_castps_pd(t[4 * i + 3]);
            r[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
            r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
            r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
            r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
        }
        for (int i = 0; i < 2; ++i)
            for (int k = 0; k < 4; ++k) {
                t[8 * i + k] = _mm512_shuffle_f32x4(r[8 * i + k], r[8 * i + 4 + k], 0x88);
                t[8 * i + 4 + k] = _mm512_shuffle_f32x4(r[8 * i + k], r[8 * i + 4 + k], 0xdd);
            }
        for (int k = 0; k < 8; ++k) {
            r[k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0x88);
            r[8 + k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0xdd);
        }
    }

    // Pack rows [0, nrows) of W = 16 * UU signals that are contiguous along the path
    // (sample stride 4 bytes) and `lane_stride` bytes apart into a row-major tile (one
    // row of W samples per t), 16 x 16 transposes at a time; returns the rows packed
    // (a multiple of 16; the caller packs the rest).
    //
    // `next` (may be null) walks linearly over memory the caller reads next: 1 KiB of it
    // is prefetched per transpose (for back-to-back signals this covers the next block).
    template <int UU>
    static inline std::int64_t pack_contiguous(float* tile, const char* src0,
                                               std::int64_t lane_stride, std::int64_t nrows,
                                               const char*& next) {
        std::int64_t t = 0;
        for (; t + 16 <= nrows; t += 16) {
            for (int u = 0; u < UU; ++u) {
                __m512 r[16];
                const char* src = src0 + (u * 16) * lane_stride + t * 4;
                if (next != nullptr) {
                    for (int j = 0; j < 16; ++j) _mm_prefetch(next + 64 * j, _MM_HINT_T1);
                    next += 1024;
                }
                for (int j = 0; j < 16; ++j) {
                    _mm_prefetch(src + j * lane_stride + kPackAhead, _MM_HINT_T0);
                    r[j] = _mm512_loadu_ps(reinterpret_cast<const float*>(src + j * lane_stride));
                }
                transpose16(r);
                for (int k = 0; k < 16; ++k) _mm512_storeu_ps(tile + (t + k) * 16 * UU + u * 16, r[k]);
            }
        }
        return t;
    }

    template <Mode M, int UU, class State>
    static inline void rows(State& S, const char* row, std::int64_t stride, std::int64_t nrows,
                            float tol, std::int64_t ahead) {
        __m512 y1[UU], y2[UU], a1[UU], a2[UU], p[UU], ss[UU];
        __m512i cnt[UU];
        __m512d lo[UU], hi[UU];
        __mmask16 rising[UU];
        for (int u = 0; u < UU; ++u) {
            y1[u] = (__m512)S.y1[u];
            y2[u] = (__m512)S.y2[u];
            a1[u] = (__m512)S.a1[u];
            a2[u] = (__m512)S.a2[u];
            p[u] = M == Mode::local ? (__m512)S.p[u] : (__m512)S.pz[u];
            ss[u] = (__m512)S.ss[u];
            cnt[u] = (__m512i)S.cnt[u];
            lo[u] = (__m512d)S.acc[u][0];
            hi[u] = (__m512d)S.acc[u][1];
            rising[u] = _mm512_cmpneq_epi32_mask((__m512i)S.rising[u], _mm512_setzero_si512());
        }
        const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
        const __m512 vtol = _mm512_set1_ps(tol);
        const __m512 two = _mm512_set1_ps(2.0f);
        const __m512 zero = _mm512_setzero_ps();
        const __m512i one = _mm512_set1_epi32(1);
        // run mode: signs of the previous floored d
        __mmask16 ppos[UU], pneg[UU];
        for (int u = 0; u < UU; ++u) {
            ppos[u] = _mm512_cmp_ps_mask(p[u], zero, _CMP_GT_OQ);
            pneg[u] = _mm512_cmp_ps_mask(p[u], zero, _CMP_LT_OQ);
        }
        // One row of vector u. Local mode: returns the lanes where the previous |d| is
        // a peak (its value is the old p, returned in `value`).
        auto step = [&](int u, const char* r, __m512& value) -> __mmask16 {
            if (ahead != 0) _mm_prefetch(r + ahead + u * 64, _MM_HINT_T0);
            const __m512 y = _mm512_loadu_ps(reinterpret_cast<const float*>(r + u * 64));
            const __m512 ay = _mm512_and_ps(y, absmask);
            const __m512 d = _mm512_add_ps(_mm512_fnmadd_ps(two, y1[u], y), y2[u]);
            const __m512 sc = _mm512_add_ps(_mm512_fmadd_ps(two, a1[u], a2[u]), ay);
            ss[u] = _mm512_add_ps(ss[u], sc);
            const __m512 ad = _mm512_and_ps(d, absmask);
            const __mmask16 keep = _mm512_cmp_ps_mask(ad, _mm512_mul_ps(vtol, sc), _CMP_NLT_UQ);
            __mmask16 peak = 0;
            if (M == Mode::local) {
                const __m512 a = _mm512_maskz_mov_ps(keep, ad);
                const __mmask16 gt = _mm512_cmp_ps_mask(a, p[u], _CMP_GT_OQ);
                const __mmask16 lt = _mm512_cmp_ps_mask(a, p[u], _CMP_LT_OQ);
                peak = _kand_mask16(lt, rising[u]);
                cnt[u] = _mm512_mask_add_epi32(cnt[u], peak, cnt[u], one);
                rising[u] = _kandn_mask16(lt, _kor_mask16(rising[u], gt));
                value = p[u];
                p[u] = a;
            } else {
                // A run starts at a nonzero d whose sign differs from the previous d's.
                const __mmask16 pos = _kand_mask16(keep, _mm512_cmp_ps_mask(d, zero, _CMP_GT_OQ));
                const __mmask16 neg = _kand_mask16(keep, _mm512_cmp_ps_mask(d, zero, _CMP_LT_OQ));
                const __mmask16 start =
                    _kor_mask16(_kandn_mask16(ppos[u], pos), _kandn_mask16(pneg[u], neg));
                cnt[u] = _mm512_mask_add_epi32(cnt[u], start, cnt[u], one);
                lo[u] = _mm512_add_pd(lo[u], _mm512_maskz_cvtps_pd(static_cast<__mmask8>(keep),
                                                                   _mm512_castps512_ps256(ad)));
                hi[u] = _mm512_add_pd(
                    hi[u], _mm512_maskz_cvtps_pd(static_cast<__mmask8>(_kshiftri_mask16(keep, 8)),
                                                 _mm512_extractf32x8_ps(ad, 1)));
                ppos[u] = pos;
                pneg[u] = neg;
            }
            y2[u] = y1[u];
            y1[u] = y;
            a2[u] = a1[u];
            a1[u] = ay;
            return peak;
        };
        // Local mode: a lane has no peaks in two consecutive rows (a peak needs a fall
        // right after it), so two rows' peak values merge exactly into one vector that
        // is widened to double once per pair of rows.
        auto flush = [&](int u, __m512 got) {
            lo[u] = _mm512_add_pd(lo[u], _mm512_cvtps_pd(_mm512_castps512_ps256(got)));
            hi[u] = _mm512_add_pd(hi[u], _mm512_cvtps_pd(_mm512_extractf32x8_ps(got, 1)));
        };
        std::int64_t t = 0;
        __m512 value, got[UU];
        for (; t + 1 < nrows; t += 2, row += 2 * stride) {
            for (int u = 0; u < UU; ++u) {
                const __mmask16 k = step(u, row, value);
                if (M == Mode::local) got[u] = _mm512_maskz_mov_ps(k, value);
            }
            for (int u = 0; u < UU; ++u) {
                const __mmask16 k = step(u, row + stride, value);
                if (M == Mode::local) flush(u, _mm512_mask_mov_ps(got[u], k, value));
            }
        }
        if (t < nrows) {
            for (int u = 0; u < UU; ++u) {
                const __mmask16 k = step(u, row, value);
                if (M == Mode::local) flush(u, _mm512_maskz_mov_ps(k, value));
            }
        }
        if (M == Mode::run)
            for (int u = 0; u < UU; ++u) p[u] = _mm512_mask_mov_ps(
                _mm512_maskz_mov_ps(ppos[u], _mm512_set1_ps(1.0f)), pneg[u], _mm512_set1_ps(-1.0f));
        for (int u = 0; u < UU; ++u) {
            put(S.y1[u], y1[u]);
            put(S.y2[u], y2[u]);
            put(S.a1[u], a1[u]);
            put(S.a2[u], a2[u]);
            if (M == Mode::local)
                put(S.p[u], p[u]);
            else
                put(S.pz[u], p[u]);
            put(S.ss[u], ss[u]);
            put(S.cnt[u], cnt[u]);
            put(S.acc[u][0], lo[u]);
            put(S.acc[u][1], hi[u]);
            put(S.rising[u], _mm512_movm_epi32(rising[u]));
        }
    }
};


// float64 packing: 8 x 8 transposes (the f64 lane kernel itself is the generic one).
struct Avx512F64 {
    static inline void transpose8(__m512d r[8]) {
        __m512d t[8], s[8];
        for (int i = 0; i < 4; ++i) {
            t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
        }
        for (int i = 0; i < 2; ++i) {
            s[4 * i + 0] = _mm512_shuffle_f64x2(t[4 * i + 0], t[4 * i + 2], 0x88);
            s[4 * i + 1] = _mm512_shuffle_f64x2(t[4 * i + 1], t[4 * i + 3], 0x88);
            s[4 * i + 2] = _mm512_shuffle_f64x2(t[4 * i + 0], t[4 * i + 2], 0xdd);
            s[4 * i + 3] = _mm512_shuffle_f64x2(t[4 * i + 1], t[4 * i + 3], 0xdd);
        }
        for (int k = 0; k < 4; ++k) {
            r[k] = _mm512_shuffle_f64x2(s[k], s[4 + k], 0x88);
            r[4 + k] = _mm512_shuffle_f64x2(s[k], s[4 + k], 0xdd);
        }
    }

    // As Avx512F32::pack_contiguous, for W = 8 * UU float64 signals (sample stride 8).
    template <int UU>
    static inline std::int64_t pack_contiguous(double* tile, const char* src0,
                                               std::int64_t lane_stride, std::int64_t nrows,
                                               const char*& next) {
        std::int64_t t = 0;
        for (; t + 8 <= nrows; t += 8) {
            for (int u = 0; u < UU; ++u) {
                __m512d r[8];
                const char* src = src0 + (u * 8) * lane_stride + t * 8;
                if (next != nullptr) {
                    for (int j = 0; j < 8; ++j) _mm_prefetch(next + 64 * j, _MM_HINT_T1);
                    next += 512;
                }
                for (int j = 0; j < 8; ++j) {
                    _mm_prefetch(src + j * lane_stride + kPackAhead, _MM_HINT_T0);
                    r[j] = _mm512_loadu_pd(reinterpret_cast<const double*>(src + j * lane_stride));
                }
                transpose8(r);
                for (int k = 0; k < 8; ++k) _mm512_storeu_pd(tile + (t + k) * 8 * UU + u * 8, r[k]);
            }
        }
        return t;
    }
};

}  // namespace SMPFAST_NS
}  // namespace smpfast
#endif
