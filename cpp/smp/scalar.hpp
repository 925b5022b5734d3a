// smpfast: the scalar SMP state machine for one signal (no Python).
//
// This is the one scalar implementation of the run and plateau logic. It is used for
// find_peaks, for signals split at non-finite samples (nan_policy="omit"), and as the
// definition the vector kernel in simd/lanes.hpp mirrors lane by lane. Arithmetic is
// in the signal's own type E (float or double), in exactly the reference's order:
//   d     = (y[t+1] - 2 y[t]) + y[t-1]
//   scale = (|y[t-1]| + 2|y[t]|) + |y[t+1]|,   d := 0 when |d| < E(tol) * scale
// and magnitudes are summed (and compared with height) in double.
//
// Code here may be compiled once per SIMD target, so it lives in the namespace
// SMPFAST_NS chosen by the including translation unit (no shared inline symbols).
#pragma once

#include <cstdint>
#include <cstring>

#include "plan.hpp"

#ifndef SMPFAST_NS
#error "define SMPFAST_NS before including smp/scalar.hpp"
#endif

namespace smpfast {
namespace SMPFAST_NS {

template <class E>
inline E load_sample(const char* p) {
    E v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

inline float abs_e(float v) { return __builtin_fabsf(v); }
inline double abs_e(double v) { return __builtin_fabs(v); }
inline double abs_d(double v) { return __builtin_fabs(v); }
inline bool finite_e(float v) { return __builtin_isfinite(v) != 0; }
inline bool finite_e(double v) { return __builtin_isfinite(v) != 0; }

// Receives peaks: position (index into y) and magnitude.
struct SumSink {
    double smp = 0.0;
    std::int64_t count = 0;
    void operator()(std::int64_t, double magnitude) {
        smp += magnitude;
        ++count;
    }
};

// Streaming state of one signal (one segment between non-finite samples).
template <class E, Mode M>
struct ScalarState {
    E y1 = 0, y2 = 0;           // previous two samples (y[t], y[t-1])
    std::int64_t seen = 0;      // finite samples in the current segment
    // local mode: previous |d|, whether we rose into its plateau, where it started
    E p = static_cast<E>(__builtin_inf());
    bool rising = false;
    std::int64_t plateau_first = 0;
    // run mode: running sum of the current run (double), its largest |d| and where
    double s = 0.0;
    E best = 0;
    std::int64_t best_at = 0;

    template <class Sink>
    void end_segment(double height, Sink& sink) {
        if (M == Mode::run && s != 0.0 && abs_d(s) >= height) sink(best_at, abs_d(s));
        *this = ScalarState{};
    }

    // Push finite sample y, which has index t in the signal.
    template <class Sink>
    void push(E y, std::int64_t t, double height, E tol, Sink& sink) {
        if (seen >= 2) {
            const std::int64_t at = t - 1;  // the sample d belongs to
            const E d = (y - (y1 + y1)) + y2;
            const E scale = (abs_e(y2) + (abs_e(y1) + abs_e(y1))) + abs_e(y);
            const bool under = abs_e(d) < tol * scale;
            if (M == Mode::local) {
                const E a = under ? E(0) : abs_e(d);
                if (a > p) {
                    rising = true;
                    plateau_first = at;
                } else if (a < p) {
                    if (rising && static_cast<double>(p) >= height)
                        sink((plateau_first + at - 1) / 2, static_cast<double>(p));
                    rising = false;
                    plateau_first = at;
                }
                p = a;
            } else {
                const E dz = under ? E(0) : d;
                const bool same = (dz > 0 && s > 0.0) || (dz < 0 && s < 0.0);
                if (same) {
                    s += static_cast<double>(dz);
                    if (abs_e(dz) > best) {
                        best = abs_e(dz);
                        best_at = at;
                    }
                } else {
                    if (s != 0.0 && abs_d(s) >= height) sink(best_at, abs_d(s));
                    s = static_cast<double>(dz);
                    best = abs_e(dz);
                    best_at = at;
                }
            }
        }
        y2 = y1;
        y1 = y;
        ++seen;
    }
};

// Measure one strided signal. Returns false if it holds a non-finite sample and
// `omit` is false (the caller reports NaN / no peaks); otherwise the pieces between
// non-finite samples are measured as separate signals.
template <class E, Mode M, class Sink>
bool scalar_signal(const char* first, std::int64_t length, std::int64_t stride, double height,
                   double tol, bool omit, Sink& sink) {
    ScalarState<E, M> st;
    const E tol_e = static_cast<E>(tol);
    const char* p = first;
    for (std::int64_t t = 0; t < length; ++t, p += stride) {
        const E y = load_sample<E>(p);
        if (!finite_e(y)) {
            if (!omit) return false;
            st.end_segment(height, sink);
            continue;
        }
        st.push(y, t, height, tol_e, sink);
    }
    st.end_segment(height, sink);
    return true;
}

// One signal of an SMPStream, unpacked from (and packed back into) the stream's state
// arrays: the ScalarState of the current finite piece plus the sums around it. Used for
// the signals the vector kernel cannot take (stream warm-up, pieces restarted after a
// non-finite sample, blocks narrower than a vector, lanes that met NaN/Inf).
template <class E, Mode M>
struct StreamCarry {
    ScalarState<E, M> st;
    SumSink sink;           // the current piece: sink.smp is the state's acc
    double total = 0.0;
    bool poisoned = false;

    void load(const StreamState& S, std::int64_t j) {
        st.y1 = static_cast<const E*>(S.y1)[j];
        st.y2 = static_cast<const E*>(S.y2)[j];
        st.seen = S.seen[j];
        if (M == Mode::local) {
            st.p = static_cast<const E*>(S.p)[j];
            st.rising = S.rising[j] != 0;
        } else {
            st.s = S.s[j];
        }
        sink.smp = S.acc[j];
        sink.count = S.count[j];
        total = S.total[j];
        poisoned = S.poisoned[j] != 0;
    }

    void store(const StreamState& S, std::int64_t j) const {
        static_cast<E*>(S.y1)[j] = st.y1;
        static_cast<E*>(S.y2)[j] = st.y2;
        S.seen[j] = static_cast<std::uint8_t>(st.seen < 2 ? st.seen : 2);
        if (M == Mode::local) {
            static_cast<E*>(S.p)[j] = st.p;
            S.rising[j] = st.rising ? 1 : 0;
        } else {
            S.s[j] = st.s;
        }
        S.acc[j] = sink.smp;
        S.count[j] = sink.count;
        S.total[j] = total;
        S.poisoned[j] = poisoned ? 1 : 0;
    }

    // Push n samples first, first + stride, ... A non-finite sample poisons the signal,
    // or (omit) ends its finite piece: the open run is closed, the piece's sum moves to
    // total, and the state starts afresh.
    void advance(const char* first, std::int64_t n, std::int64_t stride, double height, E tol,
                 bool omit) {
        for (std::int64_t t = 0; t < n && !poisoned; ++t, first += stride) {
            const E y = load_sample<E>(first);
            if (!finite_e(y)) {
                if (!omit) {
                    poisoned = true;
                } else {
                    st.end_segment(height, sink);
                    total += sink.smp;
                    sink.smp = 0.0;
                }
                continue;
            }
            st.push(y, st.seen, height, tol, sink);
        }
    }
};

}  // namespace SMPFAST_NS
}  // namespace smpfast
