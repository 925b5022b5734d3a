// smpfast: the vector SMP kernel, one signal per SIMD lane (no Python).
//
// A block is W = U * N signals of element type E (N elements per vector, U vectors).
// For every sample t the block reads one "row" of W values (contiguous in memory: in
// place when the batch axis has unit stride, else from a packed tile) and advances the
// state machine of smp/scalar.hpp in every lane, with the same arithmetic in the same
// order, so peak decisions are bit-identical to the scalar path. Magnitudes are summed
// in double. Written once with GCC/Clang vector extensions, compiled once per ISA target
// (simd/target.cpp).
//
// The same State and rows() serve two callers: the batch kernel (measure, measure_group:
// a fresh state from the first two rows of each block) and the SMPStream kernel
// (stream_group: the state loaded from the stream's per-signal arrays, advanced over the
// frames of one update, stored back; lanes the vector path cannot take go to the scalar
// StreamCarry of smp/scalar.hpp, which is ScalarState plus the stream's sums).
//
// Differences from the scalar path, both within the documented parity:
// - run mode without a height threshold sums |d| sample by sample (equal to the sum of
//   |run sums| up to rounding, since a run's samples share one sign);
// - non-finite samples are detected by a running sum of the noise-floor scale; a lane
//   whose sum is not finite (NaN/Inf input, or overflow) is measured again by the scalar
//   path, which decides.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "../smp/plan.hpp"
#include "../smp/scalar.hpp"
#include "avx2.hpp"
#include "avx512_f32.hpp"

#if defined(__AVX__)
#include <immintrin.h>
#endif

#if !defined(SMPFAST_NS) || !defined(SMPFAST_VBYTES) || !defined(SMPFAST_UNROLL)
#error "define SMPFAST_NS, SMPFAST_VBYTES and SMPFAST_UNROLL before including simd/lanes.hpp"
#endif

namespace smpfast {
namespace SMPFAST_NS {

constexpr int VB = SMPFAST_VBYTES;
constexpr int U = SMPFAST_UNROLL;            // vectors per block
constexpr int ND = VB / 8;                   // doubles per vector
#ifndef SMPFAST_TILE_ROWS
#define SMPFAST_TILE_ROWS 128
#endif
constexpr std::int64_t kTileRows = SMPFAST_TILE_ROWS;  // rows per packed tile
constexpr std::int64_t kMaxRowsPerCall = std::int64_t{1} << 30;  // int32 lane counters
#ifndef SMPFAST_PREFETCH_ROWS
#define SMPFAST_PREFETCH_ROWS 24
#endif
constexpr std::int64_t kPrefetchRows = SMPFAST_PREFETCH_ROWS;
#ifndef SMPFAST_GROUP_BYTES
#define SMPFAST_GROUP_BYTES 8192
#endif
#ifndef SMPFAST_GROUP_ROWS
#define SMPFAST_GROUP_ROWS 4
#endif
constexpr int kGroup = SMPFAST_GROUP_BYTES / (U * VB) > 0 ? SMPFAST_GROUP_BYTES / (U * VB) : 1;
constexpr std::int64_t kGroupRows = SMPFAST_GROUP_ROWS;
// Rows per chunk where advance() walks vector by vector. The state is loaded and stored
// once per vector and chunk, so longer chunks would amortise it, but the rows of a chunk
// are a large power-of-two stride apart (frames), land in one L1 set (8 ways), and must
// survive there until the block's second vector reads them: on the stack case (AVX2 VM,
// 1 thread, cycles per sample) 4 rows 1.57, 8 rows 1.65-1.82, 16 rows 2.9, 32 rows 4.9.
#ifndef SMPFAST_VECTOR_GROUP_ROWS
#define SMPFAST_VECTOR_GROUP_ROWS 4
#endif
constexpr std::int64_t kVectorGroupRows = SMPFAST_VECTOR_GROUP_ROWS;
// Rows per chunk of the stream kernel's groups: rows() loads and stores the lane state
// (on the stack, L2) once per chunk, so longer chunks than the batch kernel's amortise it.
#ifndef SMPFAST_STREAM_GROUP_ROWS
#define SMPFAST_STREAM_GROUP_ROWS 8
#endif
constexpr std::int64_t kStreamGroupRows = SMPFAST_STREAM_GROUP_ROWS;
// 0: the stream's run mode at height 0 takes the generic rows_by_vector on AVX2 too (for
// A/B builds; 1 takes Avx2Lanes::rows<run, Z>, ~10% fewer cycles on the stream case).
#ifndef SMPFAST_AVX2_RUN_SUM
#define SMPFAST_AVX2_RUN_SUM 1
#endif

typedef double vd __attribute__((vector_size(VB)));
typedef long long vdm __attribute__((vector_size(VB)));
typedef float vfh __attribute__((vector_size(VB / 2)));
typedef int vih __attribute__((vector_size(VB / 2)));

template <class E>
struct VT;
template <>
struct VT<float> {
    typedef float v __attribute__((vector_size(VB)));
    typedef int m __attribute__((vector_size(VB)));
    static constexpr int n = VB / 4;
};
template <>
struct VT<double> {
    typedef double v __attribute__((vector_size(VB)));
    typedef long long m __attribute__((vector_size(VB)));
    static constexpr int n = VB / 8;
};

template <class V>
inline V load_v(const char* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

inline VT<float>::v vabs(VT<float>::v v) { return (VT<float>::v)((VT<float>::m)v & 0x7fffffff); }
inline vd vabs(vd v) { return (vd)((vdm)v & 0x7fffffffffffffffLL); }

// Widen half R_ of an E vector to double lanes (E = double: the vector itself).
template <int R_, std::size_t... I>
inline vfh half_of(VT<float>::v x, std::index_sequence<I...>) {
    return __builtin_shufflevector(x, x, (R_ * (VB / 8) + static_cast<int>(I))...);
}
template <int R_, std::size_t... I>
inline vih half_of(VT<float>::m x, std::index_sequence<I...>) {
    return __builtin_shufflevector(x, x, (R_ * (VB / 8) + static_cast<int>(I))...);
}
template <int R_>
inline vd widen(vd x) { return x; }
template <int R_>
inline vd widen(VT<float>::v x) {
#if defined(__AVX__)
    // One vcvtps2pd from the extracted half (GCC lowers the generic form below through a
    // stack slot and two 128-bit conversions on AVX2).
    if constexpr (VB == 32) {
        const __m256 v = reinterpret_cast<__m256>(x);
        const __m128 h = R_ == 0 ? _mm256_castps256_ps128(v) : _mm256_extractf128_ps(v, 1);
        return reinterpret_cast<vd>(_mm256_cvtps_pd(h));
    }
#endif
#if defined(__AVX512F__)
    if constexpr (VB == 64) {
        const __m512 v = reinterpret_cast<__m512>(x);
        const __m256 h = R_ == 0 ? _mm512_castps512_ps256(v)
                                 : _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
        return reinterpret_cast<vd>(_mm512_cvtps_pd(h));
    }
#endif
    return __builtin_convertvector(half_of<R_>(x, std::make_index_sequence<VB / 8>{}), vd);
}
template <int R_>
inline vdm widen_mask(vdm m) { return m; }
template <int R_>
inline vdm widen_mask(VT<float>::m m) {
    return __builtin_convertvector(half_of<R_>(m, std::make_index_sequence<VB / 8>{}), vdm);
}

// acc[0..R) += x widened (static loop over the halves).
template <int R_, class V>
inline void add_wide(vd* acc, V x) {
    if constexpr (R_ > 0) {
        add_wide<R_ - 1>(acc, x);
        acc[R_ - 1] += widen<R_ - 1>(x);
    }
}

// The smallest E >= h (so that E compare p >= h_e is exactly double(p) >= h).
template <class E>
inline E ceil_to(double h) {
    E e = static_cast<E>(h);
    if (static_cast<double>(e) < h) e = __builtin_nextafterf(static_cast<float>(e), __builtin_inff());
    return e;
}
template <>
inline double ceil_to<double>(double h) { return h; }

// Run mode with a height: in double lanes, close runs that end and extend the others.
template <int R_, class V, class Mk>
inline void run_close(vd* acc, vd* s, vdm* cntw, V dz, Mk same, vd vhd) {
    if constexpr (R_ > 0) {
        run_close<R_ - 1>(acc, s, cntw, dz, same, vhd);
        constexpr int r = R_ - 1;
        const vd dzr = widen<r>(dz);
        const vdm samer = widen_mask<r>(same);
        const vd as = vabs(s[r]);
        const vdm close = ~samer & (s[r] != vd{}) & (as >= vhd);
        acc[r] += close ? as : vd{};
        cntw[r] -= close;
        s[r] = samer ? s[r] + dzr : dzr;
    }
}

// Run mode keeping the run sums but without a height (the stream's run mode at height 0;
// the ends of runs are counted by the caller in the narrow counters): the sum t of a run
// that ends here is s masked by ~same (0 elsewhere, and adding 0 changes nothing), and
// the new sum dz + (s - t) is exactly s + dz inside a run and dz where one starts.
template <int R_, class V, class Mk>
inline void run_sum(vd* acc, vd* s, V dz, Mk same) {
    if constexpr (R_ > 0) {
        run_sum<R_ - 1>(acc, s, dz, same);
        constexpr int r = R_ - 1;
        const vd t = (vd)((vdm)s[r] & ~widen_mask<r>(same));
        acc[r] += vabs(t);
        s[r] = widen<r>(dz) + (s[r] - t);
    }
}

template <class E>
struct Block {
    typedef typename VT<E>::v V;
    typedef typename VT<E>::m Mk;
    static constexpr int NE = VT<E>::n;
    static constexpr int R = static_cast<int>(sizeof(double) / sizeof(E));
    static constexpr int W = U * NE;
    static_assert(W % 8 == 0, "stream_group scans the per-signal flags 8 at a time");

    struct State {
        V y1[U], y2[U], a1[U], a2[U], p[U], pz[U], ss[U];
        Mk rising[U], cnt[U];
        vd acc[U][R], s[U][R];
        vdm cntw[U][R];
        std::int64_t unflushed = 0;  // rows counted in the narrow counters
        long long count[W];
    };

    static void init(State& S, const char* row0, const char* row1) {
        for (int u = 0; u < U; ++u) {
            const V a = load_v<V>(row0 + u * VB);
            const V b = load_v<V>(row1 + u * VB);
            S.y2[u] = a;
            S.y1[u] = b;
            S.a2[u] = vabs(a);
            S.a1[u] = vabs(b);
            S.p[u] = V{} + static_cast<E>(__builtin_inf());
            S.pz[u] = V{};
            S.ss[u] = V{};
            S.rising[u] = Mk{};
            S.cnt[u] = Mk{};
            for (int r = 0; r < R; ++r) {
                S.acc[u][r] = vd{};
                S.s[u][r] = vd{};
                S.cntw[u][r] = vdm{};
            }
        }
        for (int j = 0; j < W; ++j) S.count[j] = 0;
        S.unflushed = 0;
    }

    // Move the narrow lane counters into the 64-bit ones.
    static void flush(State& S) {
        Mk c[U];
        vdm cw[U][R];
        for (int u = 0; u < U; ++u) {
            c[u] = S.cnt[u];
            S.cnt[u] = Mk{};
            for (int r = 0; r < R; ++r) {
                cw[u][r] = S.cntw[u][r];
                S.cntw[u][r] = vdm{};
            }
        }
        decltype(+c[0][0]) cl[W];
        long long cwl[W];
        std::memcpy(cl, c, sizeof cl);
        std::memcpy(cwl, cw, sizeof cwl);
        for (int j = 0; j < W; ++j) S.count[j] += static_cast<long long>(cl[j]) + cwl[j];
        S.unflushed = 0;
    }

    // Advance over `nrows` rows starting at `row`, `stride` bytes apart; prefetch the
    // row `ahead` bytes further (0: no prefetch). nrows <= kMaxRowsPerCall.
    // Run mode: H keeps the run sums s (closing runs at `height`); without H the sum of
    // |d| is taken sample by sample and runs are counted where they start. Z (with H,
    // height 0): run sums kept, ends counted without a height compare (run_sum).
    template <Mode M, bool H, bool Z = false>
    static void rows(State& S, const char* row, std::int64_t stride, std::int64_t nrows,
                     double height, double tol, std::int64_t ahead) {
        if (S.unflushed + nrows > kMaxRowsPerCall) flush(S);
        S.unflushed += nrows;
#ifdef SMPFAST_HAVE_AVX512_F32
        if constexpr (std::is_same_v<E, float> && !(M == Mode::run && H) &&
                      !(M == Mode::local && H)) {
            Avx512F32::rows<M, U>(S, row, stride, nrows, static_cast<float>(tol), ahead);
            (void)height;
            return;
        }
#endif
        V y1[U], y2[U], a1[U], a2[U], p[U], pz[U], ss[U];
        Mk rising[U], cnt[U];
        vd acc[U][R], s[U][R];
        vdm cntw[U][R];
        for (int u = 0; u < U; ++u) {
            y1[u] = S.y1[u]; y2[u] = S.y2[u]; a1[u] = S.a1[u]; a2[u] = S.a2[u];
            p[u] = S.p[u]; pz[u] = S.pz[u]; ss[u] = S.ss[u];
            rising[u] = S.rising[u]; cnt[u] = S.cnt[u];
            for (int r = 0; r < R; ++r) {
                acc[u][r] = S.acc[u][r]; s[u][r] = S.s[u][r]; cntw[u][r] = S.cntw[u][r];
            }
        }
        const V zero = V{};
        const V vtol = zero + static_cast<E>(tol);
        const V vh = zero + ceil_to<E>(height);
        const vd vhd = vd{} + height;
        for (std::int64_t t = 0; t < nrows; ++t, row += stride) {
            if (ahead != 0)
                for (int u = 0; u < U; u += 64 / VB > 0 ? 64 / VB : 1)
                    __builtin_prefetch(row + ahead + u * VB);
            for (int u = 0; u < U; ++u) {
                const V y = load_v<V>(row + u * VB);
                const V ay = vabs(y);
                const V d = (y - (y1[u] + y1[u])) + y2[u];
                const V scale = (a2[u] + (a1[u] + a1[u])) + ay;
                ss[u] += scale;
                const V ad = vabs(d);
                const Mk under = ad < vtol * scale;
                if (M == Mode::local) {
                    const V a = under ? zero : ad;
                    const Mk gt = a > p[u];
                    const Mk lt = a < p[u];
                    Mk peak = lt & rising[u];
                    if (H) peak &= (p[u] >= vh);
                    const V got = peak ? p[u] : zero;
                    add_wide<R>(acc[u], got);
                    cnt[u] -= peak;
                    rising[u] = (rising[u] | gt) & ~lt;
                    p[u] = a;
                } else {
                    const V dz = under ? zero : d;
                    const Mk same = ((dz > zero) & (pz[u] > zero)) | ((dz < zero) & (pz[u] < zero));
                    if (!H) {
                        cnt[u] -= (dz != zero) & ~same;  // a run starts
                        const V m = under ? zero : ad;
                        add_wide<R>(acc[u], m);
                    } else if (Z) {
                        cnt[u] -= ~same & (pz[u] != zero);  // a run ends
                        run_sum<R>(acc[u], s[u], dz, same);
                    } else {
                        run_close<R>(acc[u], s[u], cntw[u], dz, same, vhd);
                    }
                    pz[u] = dz;
                }
                y2[u] = y1[u];
                y1[u] = y;
                a2[u] = a1[u];
                a1[u] = ay;
            }
        }
        for (int u = 0; u < U; ++u) {
            S.y1[u] = y1[u]; S.y2[u] = y2[u]; S.a1[u] = a1[u]; S.a2[u] = a2[u];
            S.p[u] = p[u]; S.pz[u] = pz[u]; S.ss[u] = ss[u]; S.rising[u] = rising[u];
            S.cnt[u] = cnt[u];
            for (int r = 0; r < R; ++r) {
                S.acc[u][r] = acc[u][r]; S.s[u][r] = s[u][r]; S.cntw[u][r] = cntw[u][r];
            }
        }
    }

    // True where advance() walks vector by vector (the AVX2 kernel).
    template <bool H>
    static constexpr bool by_vector() {
#ifdef SMPFAST_HAVE_AVX2
        return !H;
#else
        return false;
#endif
    }

    // rows(), or the target's vector-by-vector kernel where it has one (same decisions).
    template <Mode M, bool H>
    static void advance(State& S, const char* row, std::int64_t stride, std::int64_t nrows,
                        double height, double tol, std::int64_t ahead) {
#ifdef SMPFAST_HAVE_AVX2
        if constexpr (by_vector<H>()) {
            if (S.unflushed + nrows > kMaxRowsPerCall) flush(S);
            S.unflushed += nrows;
            for (int u = 0; u < U; ++u)  // one prefetch per 64-byte line
                Avx2Lanes<E>::template rows<M>(S, u, row + u * VB, stride, nrows,
                                               static_cast<E>(tol),
                                               (u * VB) % 64 == 0 ? ahead : 0);
            (void)height;
            return;
        }
#endif
        rows<M, H>(S, row, stride, nrows, height, tol, ahead);
    }

    // The same advance as rows(), vector by vector: each of the U vectors takes all
    // `nrows` rows with its state in registers, then the next one (the rows of one chunk
    // stay in L1 between them). Lanes are independent and each lane sees the same
    // operations in the same order, so the results are bit-identical to rows(). rows()
    // keeps U vectors of state live at once, which for U = 4 on AVX2 (16 registers)
    // spills nearly all of it on every row; here one vector's state (~10 registers) fits.
    // The stream kernel uses it (its chunks are short, and the state is loaded per call).
    template <Mode M, bool H, bool Z = false>
    static void rows_by_vector(State& S, const char* row, std::int64_t stride,
                               std::int64_t nrows, double height, double tol,
                               std::int64_t ahead) {
#ifdef SMPFAST_HAVE_AVX512_F32
        if constexpr (std::is_same_v<E, float> && !(M == Mode::run && H) &&
                      !(M == Mode::local && H)) {
            rows<M, H, Z>(S, row, stride, nrows, height, tol, ahead);
            return;
        }
#endif
#ifdef SMPFAST_HAVE_AVX2
        if constexpr (by_vector<H>()) {
            advance<M, H>(S, row, stride, nrows, height, tol, ahead);
            return;
        } else if constexpr (M == Mode::run && Z && SMPFAST_AVX2_RUN_SUM) {  // height 0
            if (S.unflushed + nrows > kMaxRowsPerCall) flush(S);
            S.unflushed += nrows;
            for (int u = 0; u < U; ++u)
                Avx2Lanes<E>::template rows<M, true>(S, u, row + u * VB, stride, nrows,
                                                     static_cast<E>(tol),
                                                     (u * VB) % 64 == 0 ? ahead : 0);
            (void)height;
            return;
        }
#endif
        if (S.unflushed + nrows > kMaxRowsPerCall) flush(S);
        S.unflushed += nrows;
        if (ahead != 0)
            for (std::int64_t t = 0; t < nrows; ++t)
                for (int u = 0; u < U; u += 64 / VB > 0 ? 64 / VB : 1)
                    __builtin_prefetch(row + t * stride + ahead + u * VB);
        const V zero = V{};
        const V vtol = zero + static_cast<E>(tol);
        const V vh = zero + ceil_to<E>(height);
        const vd vhd = vd{} + height;
        for (int u = 0; u < U; ++u) {
            V y1 = S.y1[u], y2 = S.y2[u], a1 = S.a1[u], a2 = S.a2[u];
            V p = S.p[u], pz = S.pz[u], ss = S.ss[u];
            Mk rising = S.rising[u], cnt = S.cnt[u];
            vd acc[R], sr[R];
            vdm cntw[R];
            for (int r = 0; r < R; ++r) {
                acc[r] = S.acc[u][r]; sr[r] = S.s[u][r]; cntw[r] = S.cntw[u][r];
            }
            const char* at = row + u * VB;
            for (std::int64_t t = 0; t < nrows; ++t, at += stride) {
                const V y = load_v<V>(at);
                const V ay = vabs(y);
                const V d = (y - (y1 + y1)) + y2;
                const V scale = (a2 + (a1 + a1)) + ay;
                ss += scale;
                const V ad = vabs(d);
                const Mk under = ad < vtol * scale;
                if (M == Mode::local) {
                    const V a = under ? zero : ad;
                    const Mk gt = a > p;
                    const Mk lt = a < p;
                    Mk peak = lt & rising;
                    if (H) peak &= (p >= vh);
                    const V got = peak ? p : zero;
                    add_wide<R>(acc, got);
                    cnt -= peak;
                    rising = (rising | gt) & ~lt;
                    p = a;
                } else {
                    const V dz = under ? zero : d;
                    const Mk same = ((dz > zero) & (pz > zero)) | ((dz < zero) & (pz < zero));
                    if (!H) {
                        cnt -= (dz != zero) & ~same;
                        const V m = under ? zero : ad;
                        add_wide<R>(acc, m);
                    } else if (Z) {
                        cnt -= ~same & (pz != zero);
                        run_sum<R>(acc, sr, dz, same);
                    } else {
                        run_close<R>(acc, sr, cntw, dz, same, vhd);
                    }
                    pz = dz;
                }
                y2 = y1;
                y1 = y;
                a2 = a1;
                a1 = ay;
            }
            S.y1[u] = y1; S.y2[u] = y2; S.a1[u] = a1; S.a2[u] = a2;
            S.p[u] = p; S.pz[u] = pz; S.ss[u] = ss; S.rising[u] = rising; S.cnt[u] = cnt;
            for (int r = 0; r < R; ++r) {
                S.acc[u][r] = acc[r]; S.s[u][r] = sr[r]; S.cntw[u][r] = cntw[r];
            }
        }
        (void)vh;
        (void)vhd;
    }

    // Write the first `valid` lanes; re-measure lanes that saw a non-finite scale.
    template <Mode M, bool H>
    static void finish(State& S, const Plan& P, const char* lane0, int valid, double* smp,
                       std::int64_t* count) {
        flush(S);
        double acc[W], s[W];
        E ss[W];
        std::memcpy(acc, S.acc, sizeof acc);
        std::memcpy(s, S.s, sizeof s);
        std::memcpy(ss, S.ss, sizeof ss);
        for (int j = 0; j < valid; ++j) {
            double v = acc[j];
            std::int64_t c = S.count[j];
            if (M == Mode::run && H && s[j] != 0.0 && abs_d(s[j]) >= P.height) {
                v += abs_d(s[j]);
                ++c;
            }
            if (!finite_e(ss[j])) {
                SumSink sink;
                const bool ok = scalar_signal<E, M>(lane0 + j * P.lane_stride, P.length,
                                                    P.path_stride, P.height, P.tol, P.omit, sink);
                v = ok ? sink.smp : __builtin_nan("");
                c = ok ? sink.count : 0;
            }
            smp[j * P.lane_out_stride] = v;
            count[j * P.lane_out_stride] = c;
        }
    }

    template <Mode M, bool H>
    static void measure(const Plan& P, const char* lane0, int valid, double* smp,
                        std::int64_t* count, void* scratch) {
        State S;
        const std::int64_t T = P.length;
        const std::int64_t ps = P.path_stride;
        if (P.lanes_contiguous && valid == W) {
            init(S, lane0, lane0 + ps);
            for (std::int64_t t = 2; t < T; t += kMaxRowsPerCall) {
                const std::int64_t nr = T - t < kMaxRowsPerCall ? T - t : kMaxRowsPerCall;
                advance<M, H>(S, lane0 + t * ps, ps, nr, P.height, P.tol, kPrefetchRows * ps);
            }
        } else {
            // Pack tiles of kTileRows x W samples (missing lanes are zeros), run in place.
            E* tile = static_cast<E*>(scratch);
            const std::int64_t row_bytes = W * static_cast<std::int64_t>(sizeof(E));
            const bool signal_major = (ps < 0 ? -ps : ps) <= P.lane_stride;
            // Signals stored back to back: the next block's samples follow this block's.
            const char* next_block =
                (ps == static_cast<std::int64_t>(sizeof(E)) && P.lane_stride == T * ps)
                    ? lane0 + W * P.lane_stride
                    : nullptr;
            for (std::int64_t t0 = 0; t0 < T; t0 += kTileRows) {
                const std::int64_t nr = (T - t0 < kTileRows) ? (T - t0) : kTileRows;
                const char* src0 = lane0 + t0 * ps;
                std::int64_t done = 0;  // rows already packed by a vector transpose
#ifdef SMPFAST_HAVE_AVX512_F32
                if constexpr (std::is_same_v<E, float>) {
                    if (valid == W && ps == 4)
                        done = Avx512F32::pack_contiguous<U>(tile, src0, P.lane_stride, nr,
                                                             next_block);
                } else {
                    if (valid == W && ps == 8)
                        done = Avx512F64::pack_contiguous<U>(tile, src0, P.lane_stride, nr,
                                                             next_block);
                }
#endif
#ifdef SMPFAST_HAVE_AVX2
                if (valid == W && ps == static_cast<std::int64_t>(sizeof(E)))
                    done = Avx2Pack::pack_contiguous<U>(tile, src0, P.lane_stride, nr, next_block);
#endif
                if (signal_major) {
                    for (int j = 0; j < valid; ++j) {
                        const char* src = src0 + j * P.lane_stride + done * ps;
                        for (std::int64_t t = done; t < nr; ++t, src += ps)
                            std::memcpy(tile + t * W + j, src, sizeof(E));
                    }
                } else {
                    for (std::int64_t t = done; t < nr; ++t) {
                        const char* src = src0 + t * ps;
                        for (int j = 0; j < valid; ++j)
                            std::memcpy(tile + t * W + j, src + j * P.lane_stride, sizeof(E));
                    }
                }
                if (valid < W)
                    for (std::int64_t t = 0; t < nr; ++t)
                        for (int j = valid; j < W; ++j) tile[t * W + j] = E(0);
                const char* r0 = reinterpret_cast<const char*>(tile);
                if (t0 == 0) {
                    init(S, r0, r0 + row_bytes);
                    advance<M, H>(S, r0 + 2 * row_bytes, row_bytes, nr - 2, P.height, P.tol, 0);
                } else {
                    advance<M, H>(S, r0, row_bytes, nr, P.height, P.tol, 0);
                }
            }
        }
        finish<M, H>(S, P, lane0, valid, smp, count);
    }

    // G neighbouring full blocks read in place, rows in chunks of kGroupRows: each chunk
    // reads G * W contiguous samples per row (friendlier to DRAM and the prefetchers than
    // one block walking all rows), while each block prefetches its next chunk.
    template <Mode M, bool H>
    static void measure_group(const Plan& P, const char* lane0, double* smp, std::int64_t* count) {
        // On the stack (kGroup * sizeof(State), ~140 KiB for AVX-512 float32; the driver
        // checks the calling thread has room, else blocks() does not group): the same
        // states in a heap buffer measured ~1.7x slower on the stack case (cause not
        // pinned down; skewing the buffer against 4K aliasing did not help).
        State S[kGroup];
        const std::int64_t T = P.length;
        const std::int64_t ps = P.path_stride;
        const std::int64_t wb = W * static_cast<std::int64_t>(sizeof(E));
        for (int g = 0; g < kGroup; ++g) init(S[g], lane0 + g * wb, lane0 + g * wb + ps);
        constexpr std::int64_t R = by_vector<H>() ? kVectorGroupRows : kGroupRows;
        for (std::int64_t t = 2; t < T; t += R) {
            const std::int64_t nr = T - t < R ? T - t : R;
            for (int g = 0; g < kGroup; ++g)
                advance<M, H>(S[g], lane0 + g * wb + t * ps, ps, nr, P.height, P.tol, R * ps);
        }
        for (int g = 0; g < kGroup; ++g)
            finish<M, H>(S[g], P, lane0 + g * wb, W, smp + g * W * P.lane_out_stride,
                         count + g * W * P.lane_out_stride);
    }

    template <Mode M, bool H>
    static void blocks(const Plan& P, std::int64_t b0, std::int64_t b1, void* scratch) {
        const std::int64_t per_outer = (P.lanes + W - 1) / W;
        for (std::int64_t b = b0; b < b1; ++b) {
            std::int64_t o = b / per_outer;
            const std::int64_t j0 = (b % per_outer) * W;
            std::int64_t in_off = 0, out_off = P.out_offset;
            for (int k = P.outer_ndim - 1; k >= 0; --k) {  // unravel, C order
                const std::int64_t i = o % P.outer_shape[k];
                o /= P.outer_shape[k];
                in_off += i * P.outer_stride[k];
                out_off += i * P.outer_out_stride[k];
            }
            out_off += j0 * P.lane_out_stride;
            const char* lane0 = P.base + in_off + j0 * P.lane_stride;
            if (P.lanes_contiguous && P.states_on_stack && b + kGroup <= b1 &&
                (b % per_outer) + kGroup <= per_outer &&
                j0 + kGroup * W <= P.lanes) {
                measure_group<M, H>(P, lane0, P.out_smp + out_off, P.out_count + out_off);
                b += kGroup - 1;
                continue;
            }
            const int valid = static_cast<int>((P.lanes - j0 < W) ? (P.lanes - j0) : W);
            measure<M, H>(P, lane0, valid, P.out_smp + out_off, P.out_count + out_off, scratch);
        }
    }

    // ------------------------------------------------------------------ streaming
    // The batch kernel above starts each block from init() (fresh state from the first
    // two rows); the stream kernel loads the same State from the per-signal arrays of an
    // SMPStream (plan.hpp: StreamState), advances it with the same rows(), and stores it
    // back. Run mode always keeps the run sums (the H path): the stream must be able to
    // close a run in a later call, or hand the lane to the scalar StreamCarry.
    template <Mode M>
    static void load_stream(State& S, const StreamState& st, std::int64_t j0) {
        typedef decltype(+Mk{}[0]) MI;
        std::memcpy(S.y1, static_cast<const E*>(st.y1) + j0, sizeof(E) * W);
        std::memcpy(S.y2, static_cast<const E*>(st.y2) + j0, sizeof(E) * W);
        std::memcpy(S.acc, st.acc + j0, sizeof(double) * W);
        MI mask[W];
        E pz[W];
        if (M == Mode::local) {
            std::memcpy(S.p, static_cast<const E*>(st.p) + j0, sizeof(E) * W);
            for (int j = 0; j < W; ++j) mask[j] = st.rising[j0 + j] ? MI(-1) : MI(0);
            std::memcpy(S.rising, mask, sizeof mask);
        } else {
            std::memcpy(S.s, st.s + j0, sizeof(double) * W);
            for (int j = 0; j < W; ++j) {
                const double r = st.s[j0 + j];
                pz[j] = r > 0.0 ? E(1) : (r < 0.0 ? E(-1) : E(0));  // sign of the open run
            }
            std::memcpy(S.pz, pz, sizeof pz);
        }
        for (int u = 0; u < U; ++u) {
            S.a1[u] = vabs(S.y1[u]);
            S.a2[u] = vabs(S.y2[u]);
            S.ss[u] = V{};
            S.cnt[u] = Mk{};
            if (M == Mode::local) {
                S.pz[u] = V{};
                for (int r = 0; r < R; ++r) S.s[u][r] = vd{};
            } else {
                S.p[u] = V{};
                S.rising[u] = Mk{};
            }
            for (int r = 0; r < R; ++r) S.cntw[u][r] = vdm{};
        }
        for (int j = 0; j < W; ++j) S.count[j] = st.count[j0 + j];
        S.unflushed = 0;
    }

    template <Mode M>
    static void store_stream(const State& S, const StreamState& st, std::int64_t j0) {
        typedef decltype(+Mk{}[0]) MI;
        std::memcpy(static_cast<E*>(st.y1) + j0, S.y1, sizeof(E) * W);
        std::memcpy(static_cast<E*>(st.y2) + j0, S.y2, sizeof(E) * W);
        std::memcpy(st.acc + j0, S.acc, sizeof(double) * W);
        if (M == Mode::local) {
            MI mask[W];
            std::memcpy(static_cast<E*>(st.p) + j0, S.p, sizeof(E) * W);
            std::memcpy(mask, S.rising, sizeof mask);
            for (int j = 0; j < W; ++j) st.rising[j0 + j] = mask[j] != 0 ? 1 : 0;
        } else {
            std::memcpy(st.s + j0, S.s, sizeof(double) * W);
        }
        for (int j = 0; j < W; ++j) st.count[j0 + j] = S.count[j];
    }

    // Byte offset of signal j within a frame.
    static std::int64_t lane_offset(const StreamPlan& P, std::int64_t j) {
        return P.lanes_contiguous ? j * P.itemsize : P.pixel_offset(j);
    }

    // Signal j through frames f0 .. f1 - 1 by the scalar StreamCarry.
    template <Mode M>
    static void stream_scalar(const StreamPlan& P, std::int64_t j, std::int64_t f0,
                              std::int64_t f1) {
        StreamCarry<E, M> c;
        c.load(P.state, j);
        c.advance(P.base + f0 * P.frame_stride + lane_offset(P, j), f1 - f0, P.frame_stride,
                  P.height, static_cast<E>(P.tol), P.omit);
        c.store(P.state, j);
    }

    // After the vector pass over frames k .. n - 1 of the block at j0: lanes that met a
    // non-finite sample (or overflowed the scale sum), or whose piece was too short to
    // carry a d, are run again by the scalar path from the state still in the arrays;
    // then the vector state of the others is stored.
    template <Mode M>
    static void stream_finish(State& S, const StreamPlan& P, std::int64_t j0, std::int64_t k,
                              bool clean) {
        const StreamState& st = P.state;
        flush(S);
        if (clean) {  // no lane poisoned or warming up: only a non-finite scale sends one back
            const V inf = V{} + static_cast<E>(__builtin_inf());
            Mk bad = Mk{};
            for (int u = 0; u < U; ++u) bad |= ~(vabs(S.ss[u]) < inf);  // NaN or Inf
            Mk none = Mk{};
            if (std::memcmp(&bad, &none, sizeof bad) == 0) {
                store_stream<M>(S, st, j0);
                return;
            }
        }
        E ss[W];
        std::memcpy(ss, S.ss, sizeof ss);
        int which[W];
        int n_redo = 0;
        for (int l = 0; l < W; ++l)
            if (!st.poisoned[j0 + l] && (st.seen[j0 + l] < 2 || !finite_e(ss[l])))
                which[n_redo++] = l;
        if (n_redo == 0) {
            store_stream<M>(S, st, j0);
            return;
        }
        StreamCarry<E, M> carry[W];
        for (int i = 0; i < n_redo; ++i) {
            const std::int64_t j = j0 + which[i];
            carry[i].load(st, j);  // the state before these frames
            carry[i].advance(P.base + k * P.frame_stride + lane_offset(P, j), P.frames - k,
                             P.frame_stride, P.height, static_cast<E>(P.tol), P.omit);
        }
        store_stream<M>(S, st, j0);
        for (int i = 0; i < n_redo; ++i) carry[i].store(st, j0 + which[i]);
    }

    // Advance G full blocks of W signals from pixel j0 over all frames of the call, with
    // the states S[0 .. G). Warm-up (the first two samples of the stream or of a piece
    // restarted after NaN) is scalar for the whole group, so that every live lane enters
    // the vector pass with two samples. Contiguous pixels are read in place, G > 1 blocks
    // row chunk by row chunk as the batch kernel's measure_group does (each row chunk
    // reads G * W contiguous samples); other layouts (G == 1) are packed into tiles.
    template <Mode M, bool H, bool Z>
    static void stream_group(const StreamPlan& P, std::int64_t j0, int G, State* S,
                             void* scratch) {
        const StreamState& st = P.state;
        const std::int64_t n = P.frames;
        const std::int64_t fs = P.frame_stride;
        const std::int64_t lanes = static_cast<std::int64_t>(G) * W;
        // The usual case first, 8 signals per word: every signal has its two samples and
        // none is poisoned (W is a multiple of 8).
        bool clean = true;
        for (std::int64_t j = j0; j < j0 + lanes && clean; j += 8) {
            std::uint64_t seen8, pois8;
            std::memcpy(&seen8, st.seen + j, 8);
            std::memcpy(&pois8, st.poisoned + j, 8);
            clean = seen8 == 0x0202020202020202ULL && pois8 == 0;
        }
        int min_seen = 2;
        bool live = clean;
        if (!clean)
            for (std::int64_t j = j0; j < j0 + lanes; ++j) {
                if (st.poisoned[j]) continue;
                live = true;
                if (st.seen[j] < min_seen) min_seen = st.seen[j];
            }
        if (!live) return;  // every signal is NaN already
        std::int64_t k = 0;
        if (min_seen < 2) {
            k = n < 2 - min_seen ? n : 2 - min_seen;
            for (std::int64_t j = j0; j < j0 + lanes; ++j) stream_scalar<M>(P, j, 0, k);
            if (k == n) return;
        }
        for (int g = 0; g < G; ++g) load_stream<M>(S[g], st, j0 + g * W);
        if (P.lanes_contiguous) {
            const char* row0 = P.base + k * fs + lane_offset(P, j0);
            const std::int64_t wb = W * static_cast<std::int64_t>(sizeof(E));
            // the vector-by-vector kernel keeps chunks short (see kVectorGroupRows)
            constexpr std::int64_t R = by_vector<H>() ? kVectorGroupRows : kStreamGroupRows;
            if (G == 1) {
                for (std::int64_t t = k; t < n; t += R) {
                    const std::int64_t nr = n - t < R ? n - t : R;
                    rows_by_vector<M, H, Z>(S[0], row0 + (t - k) * fs, fs, nr, P.height, P.tol,
                                            R * fs);
                }
            } else {
                for (std::int64_t t = k; t < n; t += R) {
                    const std::int64_t nr = n - t < R ? n - t : R;
                    for (int g = 0; g < G; ++g)
                        rows_by_vector<M, H, Z>(S[g], row0 + g * wb + (t - k) * fs, fs, nr, P.height,
                                      P.tol, R * fs);
                }
            }
        } else {
            std::int64_t off[W];
            for (int l = 0; l < W; ++l) off[l] = lane_offset(P, j0 + l);
            E* tile = static_cast<E*>(scratch);
            const std::int64_t row_bytes = W * static_cast<std::int64_t>(sizeof(E));
            for (std::int64_t t0 = k; t0 < n; t0 += kTileRows) {
                const std::int64_t nr = (n - t0 < kTileRows) ? (n - t0) : kTileRows;
                const char* src0 = P.base + t0 * fs;
                for (std::int64_t t = 0; t < nr; ++t, src0 += fs)
                    for (int l = 0; l < W; ++l)
                        std::memcpy(tile + t * W + l, src0 + off[l], sizeof(E));
                rows_by_vector<M, H, Z>(S[0], reinterpret_cast<const char*>(tile), row_bytes, nr,
                              P.height, P.tol, 0);
            }
        }
        for (int g = 0; g < G; ++g) stream_finish<M>(S[g], P, j0 + g * W, k, clean);
    }

    // Groups of kGroup blocks with their states on the stack (the driver checked the
    // room, as for measure_group).
    template <Mode M, bool H, bool Z>
    __attribute__((noinline)) static std::int64_t stream_grouped(const StreamPlan& P,
                                                                 std::int64_t b,
                                                                 std::int64_t b_end) {
        State S[kGroup];
        for (; b + kGroup <= b_end; b += kGroup)
            stream_group<M, H, Z>(P, b * W, kGroup, S, nullptr);
        return b;
    }

    template <Mode M, bool H, bool Z>
    static void stream_range(const StreamPlan& P, std::int64_t b0, std::int64_t b1,
                             void* scratch) {
        const std::int64_t full = P.npix / W;  // blocks of W signals; then a tail
        std::int64_t b = b0;
        const std::int64_t b_full = b1 < full ? b1 : full;
        if (P.lanes_contiguous && P.states_on_stack) b = stream_grouped<M, H, Z>(P, b, b_full);
        State S;
        for (; b < b_full; ++b) stream_group<M, H, Z>(P, b * W, 1, &S, scratch);
        for (; b < b1; ++b)  // the tail, narrower than a vector: scalar
            for (std::int64_t j = b * W; j < P.npix; ++j) stream_scalar<M>(P, j, 0, P.frames);
    }

    static void stream_blocks(const StreamPlan& P, std::int64_t b0, std::int64_t b1,
                              void* scratch) {
        const bool h = P.height > 0.0;
        if (P.mode == Mode::run)  // the run sums are state: always kept (H)
            h ? stream_range<Mode::run, true, false>(P, b0, b1, scratch)
              : stream_range<Mode::run, true, true>(P, b0, b1, scratch);
        else
            h ? stream_range<Mode::local, true, false>(P, b0, b1, scratch)
              : stream_range<Mode::local, false, false>(P, b0, b1, scratch);
    }

    static void dispatch(const Plan& P, std::int64_t b0, std::int64_t b1, void* scratch) {
        const bool h = P.height > 0.0;
        if (P.mode == Mode::local)
            h ? blocks<Mode::local, true>(P, b0, b1, scratch)
              : blocks<Mode::local, false>(P, b0, b1, scratch);
        else
            h ? blocks<Mode::run, true>(P, b0, b1, scratch)
              : blocks<Mode::run, false>(P, b0, b1, scratch);
    }
};

}  // namespace SMPFAST_NS
}  // namespace smpfast
