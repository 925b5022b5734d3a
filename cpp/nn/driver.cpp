// smpfast: threading of the building-block kernels. Compiled without ISA flags.
#include "driver.hpp"

#include <algorithm>
#include <cstdint>

#include "../common/parallel.hpp"
#include "../simd/dispatch.hpp"

namespace smpfast {
namespace nn {

namespace {
template <class PlanT, class Fn>
void run_tasks(const PlanT& plan, Fn fn, std::int64_t tasks, std::int64_t work, int threads,
               std::size_t scratch_bytes) {
    if (tasks <= 0) return;
    std::int64_t n = std::max(1, threads);
    n = std::min<std::int64_t>(n, tasks);
    n = std::min<std::int64_t>(n, std::max<std::int64_t>(1, work >> 16));  // >= 64k per thread
    parallel_for(n, [&](std::int64_t i) {
        fn(plan, tasks * i / n, tasks * (i + 1) / n, thread_scratch(scratch_bytes / 8 + 1));
    });
}

std::int64_t conv_tasks_count(const ConvPlan& P) {
    constexpr std::int64_t kOB = kConvOutBlock;
    const std::int64_t Og = P.O / P.groups;
    return P.N * P.groups * ((Og + kOB - 1) / kOB) * P.HO;
}
}  // namespace

void conv2d(const ConvPlan& P, int threads) {
    const Target& t = simd::active();
    const std::int64_t work = P.N * P.O * P.HO * P.WO * (P.C / P.groups) * P.KH * P.KW;
    run_tasks(P, t.conv2d, conv_tasks_count(P), work, threads,
              static_cast<std::size_t>(conv_scratch_elements(P)) * 8 + 64);
}

void max_pool2d(const PoolPlan& P, int threads) {
    const Target& t = simd::active();
    run_tasks(P, t.max_pool2d, P.P * P.HO, P.P * P.HO * P.WO * P.KH * P.KW, threads, 0);
}

void avg_pool2d(const PoolPlan& P, int threads) {
    const Target& t = simd::active();
    run_tasks(P, t.avg_pool2d, P.P * P.HO, P.P * P.HO * P.WO * P.KH * P.KW, threads, 0);
}

void activation(const ActPlan& P, int kind, int threads) {
    const Target& t = simd::active();
    const ActTasks fn = kind == 0 ? t.relu : (kind == 1 ? t.leaky_relu : t.prelu);
    run_tasks(P, fn, (P.n + kActChunk - 1) / kActChunk, P.n, threads, 0);
}

}  // namespace nn
}  // namespace smpfast
