// smpfast: AVX2 + FMA bodies: the lane kernel (local mode, and run mode without a
// height) walked vector by vector, for float32 and float64 samples, and the tile packers
// (8 x 8 float / 4 x 4 double transposes). Same state, same decisions as
// Block<E>::rows in lanes.hpp:
// - y - 2 y1 and a2 + 2 a1 use FMA: 2 x is exact, so the single rounding is the same as
//   the reference's (y - (y1 + y1)); where y1 + y1 would overflow, the scale overflows
//   too and the lane is measured again by the scalar path (lanes.hpp, finish()).
// - Local mode: a lane has no peaks in two consecutive rows (a peak needs a fall right
//   after it), so two rows' peak values merge exactly (bitwise or) into one vector that
//   is widened to double (float32) and added once per pair of rows: adding the other
//   row's 0 changes no sum, so the double sums are bit-identical.
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

#define SMPFAST_HAVE_AVX2 1
#ifndef SMPFAST_PACK_AHEAD
#define SMPFAST_PACK_AHEAD 256
#endif
constexpr std::int64_t kPackAhead = SMPFAST_PACK_AHEAD;  // bytes ahead along each signal
#ifndef SMPFAST_ROW_PREFETCH_HINT
#define SMPFAST_ROW_PREFETCH_HINT _MM_HINT_T0
#endif

// Tile packer: W = N * UU signals contiguous along the path (sample stride sizeof(E)),
// `lane_stride` bytes apart, transposed N x N at a time (N = 8 floats or 4 doubles per
// vector) into a row-major tile (one row of W samples per t). Returns the rows packed (a
// multiple of N; the caller packs the rest). `next` (may be null) walks linearly over
// memory the caller reads next: 32 N bytes of it are prefetched per transpose (for
// back-to-back signals this covers the next block).
struct Avx2Pack {
    static inline void transpose(__m256 r[8]) {
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

    static inline void transpose(__m256d r[4]) {
        const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
        const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
        r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
        r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
        r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
        r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
    }

    template <int UU, class E>
    static inline std::int64_t pack_contiguous(E* tile, const char* src0,
                                               std::int64_t lane_stride, std::int64_t nrows,
                                               const char*& next);
};

// The few operations the lane kernel needs, per element type.
template <class E>
struct Avx2Ops;

template <>
struct Avx2Ops<float> {
    typedef __m256 V;
    typedef __m256i I;
    static V load(const char* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
    static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
    static V set1(float x) { return _mm256_set1_ps(x); }
    static V zero() { return _mm256_setzero_ps(); }
    static V absmask() { return _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)); }
    static V band(V a, V b) { return _mm256_and_ps(a, b); }
    static V bor(V a, V b) { return _mm256_or_ps(a, b); }
    static V andnot(V a, V b) { return _mm256_andnot_ps(a, b); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
    static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
    template <int P>
    static V cmp(V a, V b) { return _mm256_cmp_ps(a, b, P); }
    static I count(I c, V mask) { return _mm256_sub_epi32(c, _mm256_castps_si256(mask)); }
    static I bits(V v) { return _mm256_castps_si256(v); }
    static V mask(I m) { return _mm256_castsi256_ps(m); }
    static I iadd(I a, I b) { return _mm256_add_epi32(a, b); }
    static I igt(I a, I b) { return _mm256_cmpgt_epi32(a, b); }
    // acc[0..1] += v widened to double (lanes 0-3, 4-7)
    static void accumulate(__m256d* acc, V v) {
        acc[0] = _mm256_add_pd(acc[0], _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        acc[1] = _mm256_add_pd(acc[1], _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    // out[0..1] = v widened to double (exact)
    static void widen(__m256d* out, V v) {
        out[0] = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
        out[1] = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    }
    // out[0..1] = the 32-bit lane mask m sign-extended to 64-bit lanes
    static void widen_mask(__m256d* out, V m) {
        const __m256i i = _mm256_castps_si256(m);
        out[0] = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(i)));
        out[1] = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(i, 1)));
    }
};

template <>
struct Avx2Ops<double> {
    typedef __m256d V;
    typedef __m256i I;
    static V load(const char* p) { return _mm256_loadu_pd(reinterpret_cast<const double*>(p)); }
    static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
    static V set1(double x) { return _mm256_set1_pd(x); }
    static V zero() { return _mm256_setzero_pd(); }
    static V absmask() { return _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL)); }
    static V band(V a, V b) { return _mm256_and_pd(a, b); }
    static V bor(V a, V b) { return _mm256_or_pd(a, b); }
    static V andnot(V a, V b) { return _mm256_andnot_pd(a, b); }
    static V add(V a, V b) { return _mm256_add_pd(a, b); }
    static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
    static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
    static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_pd(a, b, c); }
    template <int P>
    static V cmp(V a, V b) { return _mm256_cmp_pd(a, b, P); }
    static I count(I c, V mask) { return _mm256_sub_epi64(c, _mm256_castpd_si256(mask)); }
    static I bits(V v) { return _mm256_castpd_si256(v); }
    static V mask(I m) { return _mm256_castsi256_pd(m); }
    static I iadd(I a, I b) { return _mm256_add_epi64(a, b); }
    static I igt(I a, I b) { return _mm256_cmpgt_epi64(a, b); }
    static void accumulate(__m256d* acc, V v) { acc[0] = _mm256_add_pd(acc[0], v); }
    static void widen(__m256d* out, V v) { out[0] = v; }
    static void widen_mask(__m256d* out, V m) { out[0] = m; }
};

template <int UU, class E>
inline std::int64_t Avx2Pack::pack_contiguous(E* tile, const char* src0, std::int64_t lane_stride,
                                              std::int64_t nrows, const char*& next) {
    typedef Avx2Ops<E> O;
    constexpr int N = 32 / static_cast<int>(sizeof(E));
    constexpr std::int64_t item = sizeof(E);
    std::int64_t t = 0;
    for (; t + N <= nrows; t += N) {
        for (int u = 0; u < UU; ++u) {
            typename O::V r[N];
            const char* src = src0 + (u * N) * lane_stride + t * item;
            if (next != nullptr) {
                for (int j = 0; j < N / 2; ++j) _mm_prefetch(next + 64 * j, _MM_HINT_T1);
                next += 32 * N;
            }
            for (int j = 0; j < N; ++j) {
                _mm_prefetch(src + j * lane_stride + kPackAhead, _MM_HINT_T0);
                r[j] = O::load(src + j * lane_stride);
            }
            transpose(r);
            for (int k = 0; k < N; ++k) O::store(tile + (t + k) * N * UU + u * N, r[k]);
        }
    }
    return t;
}

// The lane kernel for element type E (one AVX2 vector of state per call).
template <class E>
struct Avx2Lanes {
    typedef Avx2Ops<E> O;
    typedef typename O::V V;
    static constexpr int R = static_cast<int>(sizeof(double) / sizeof(E));  // double vectors per V

    // Advance vector u of state S over `nrows` rows (`stride` bytes apart) from `row`
    // (which already points at vector u's samples); prefetch `ahead` bytes further when
    // `ahead` != 0 (one line per row: call it for the first vector of a cache line).
    // Run mode: without Z, |d| is summed sample by sample and runs are counted where they
    // start (the batch kernel); with Z, the run sums S.s are kept and a run's |sum| is
    // added, and the run counted, where it ends (the stream kernel's run mode at height 0,
    // as run_sum in lanes.hpp). The new run sum is a select (s + dz inside a run, dz where
    // one starts) where run_sum computes dz + (s - t): the same values (up to the sign of
    // a zero sum, which nothing reads), with a loop-carried chain of one add and one blend
    // instead of two adds.
    template <Mode M, bool Z = false, class State>
    static inline void rows(State& S, int u, const char* row, std::int64_t stride,
                            std::int64_t nrows, E tol, std::int64_t ahead) {
        static_assert(!Z || M == Mode::run, "Z keeps run sums: run mode only");
        if (ahead != 0)
            walk<M, true, Z>(S, u, row, stride, nrows, tol, ahead);
        else
            walk<M, false, Z>(S, u, row, stride, nrows, tol, ahead);
    }

    template <Mode M, bool PF, bool Z, class State>
    static inline void walk(State& S, int u, const char* row, std::int64_t stride,
                            std::int64_t nrows, E tol, std::int64_t ahead) {
        V y1 = (V)S.y1[u], y2 = (V)S.y2[u];
        V a1 = (V)S.a1[u], a2 = (V)S.a2[u];
        V p = M == Mode::local ? (V)S.p[u] : (V)S.pz[u];
        V ss = (V)S.ss[u];
        __m256i cnt = (__m256i)S.cnt[u];
        __m256d acc[R], rs[R];
        for (int r = 0; r < R; ++r) acc[r] = (__m256d)S.acc[u][r];
        if (Z)
            for (int r = 0; r < R; ++r) rs[r] = (__m256d)S.s[u][r];
        const __m256d absmask_d = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
        V rising = (V)S.rising[u];
        const V absmask = O::absmask();
        const V vtol = O::set1(tol);
        const V two = O::set1(E(2));
        const V zero = O::zero();
        // run mode: the signs of the previous floored d (p holds the previous d)
        V ppos = O::template cmp<_CMP_GT_OQ>(p, zero);
        V pneg = O::template cmp<_CMP_LT_OQ>(p, zero);
        // One row. Local mode: returns the previous |d| where it is a peak, else 0.
        // Run mode: returns |d| above the noise floor (0 under it).
        auto step = [&](const char* r) __attribute__((always_inline)) -> V {
            if (PF) _mm_prefetch(r + ahead, SMPFAST_ROW_PREFETCH_HINT);
            const V y = O::load(r);
            const V ay = O::band(y, absmask);
            const V d = O::add(O::fnmadd(two, y1, y), y2);
            const V sc = O::add(O::fmadd(two, a1, a2), ay);
            ss = O::add(ss, sc);
            const V ad = O::band(d, absmask);
            const V keep = O::template cmp<_CMP_NLT_UQ>(ad, O::mul(vtol, sc));
            V out;
            if (M == Mode::local) {
                // a and p are >= 0 (or NaN: such lanes are measured again by the scalar
                // path), so their bit patterns order as the values do. With th = bits(p)
                // - 1 while rising, bits(p) otherwise, "bits(a) > th" is the new rising
                // (a > p, or a == p on a plateau risen into), exactly (rising | a > p) &
                // !(a < p), and a peak is a lane that was rising and no longer is: one
                // integer compare (any vector pipe) for the two float compares, the or
                // and the and-not, which queue on the two FMA/compare pipes.
                const V a = O::band(keep, ad);
                const auto th = O::iadd(O::bits(p), O::bits(rising));
                const V r2 = O::mask(O::igt(O::bits(a), th));
                const V peak = O::andnot(r2, rising);
                cnt = O::count(cnt, peak);
                rising = r2;
                out = O::band(peak, p);
                p = a;
            } else {
                // A run starts at a nonzero d whose sign differs from the previous d's.
                const V dz = O::band(keep, d);
                const V pos = O::template cmp<_CMP_GT_OQ>(dz, zero);
                const V neg = O::template cmp<_CMP_LT_OQ>(dz, zero);
                if (Z) {
                    // A run ends where the previous d was nonzero and this one does not
                    // continue it; its sum t leaves the run sum (t is 0 in other lanes).
                    const V same = O::bor(O::band(pos, ppos), O::band(neg, pneg));
                    cnt = O::count(cnt, O::andnot(same, O::bor(ppos, pneg)));
                    __m256d dzw[R], samew[R];
                    O::widen(dzw, dz);
                    O::widen_mask(samew, same);
                    for (int r = 0; r < R; ++r) {
                        const __m256d t = _mm256_andnot_pd(samew[r], rs[r]);
                        acc[r] = _mm256_add_pd(acc[r], _mm256_and_pd(t, absmask_d));
                        rs[r] = _mm256_blendv_pd(dzw[r], _mm256_add_pd(rs[r], dzw[r]), samew[r]);
                    }
                    out = zero;
                } else {
                    const V start = O::bor(O::andnot(ppos, pos), O::andnot(pneg, neg));
                    cnt = O::count(cnt, start);
                    out = O::band(keep, ad);
                }
                ppos = pos;
                pneg = neg;
            }
            y2 = y1;
            y1 = y;
            a2 = a1;
            a1 = ay;
            return out;
        };
        auto flush = [&](V got) __attribute__((always_inline)) { O::accumulate(acc, got); };
        std::int64_t t = 0;
        for (; t + 1 < nrows; t += 2, row += 2 * stride) {
            const V g0 = step(row);
            const V g1 = step(row + stride);
            if (M == Mode::local) {
                flush(O::bor(g0, g1));
            } else if (!Z) {
                flush(g0);
                flush(g1);
            }
        }
        if (t < nrows) {
            const V g = step(row);
            if (!Z) flush(g);
        }
        if (M == Mode::run)  // the sign of the last floored d is all the state needs
            p = O::bor(O::band(ppos, O::set1(E(1))), O::band(pneg, O::set1(E(-1))));
        typedef typename std::remove_reference<decltype(S.y1[u])>::type SV;
        typedef typename std::remove_reference<decltype(S.cnt[u])>::type Mk;
        typedef typename std::remove_reference<decltype(S.acc[u][0])>::type VD;
        S.y1[u] = (SV)y1;
        S.y2[u] = (SV)y2;
        S.a1[u] = (SV)a1;
        S.a2[u] = (SV)a2;
        if (M == Mode::local)
            S.p[u] = (SV)p;
        else
            S.pz[u] = (SV)p;
        S.ss[u] = (SV)ss;
        S.cnt[u] = (Mk)cnt;
        for (int r = 0; r < R; ++r) S.acc[u][r] = (VD)acc[r];
        if (Z)
            for (int r = 0; r < R; ++r) S.s[u][r] = (VD)rs[r];
        S.rising[u] = (Mk)rising;
    }
};

}  // namespace SMPFAST_NS
}  // namespace smpfast
#endif
