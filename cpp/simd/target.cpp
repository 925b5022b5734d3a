// smpfast: one SIMD target. CMake compiles this file once per target with its ISA flags
// and SMPFAST_NS / SMPFAST_VBYTES / SMPFAST_UNROLL set; everything it instantiates
// lives in namespace smpfast::SMPFAST_NS, so no code compiled for one ISA can be
// picked by the linker for another.
#include "lanes.hpp"
#include "../nn/kernels.hpp"
#include "dispatch.hpp"

namespace smpfast {
namespace SMPFAST_NS {

// Per-thread scratch: one packed tile.
constexpr std::int64_t kScratchBytes = kTileRows * U * VB;

void run_blocks(const Plan& plan, std::int64_t b0, std::int64_t b1, void* raw) {
    // align to 64 bytes (whole-vector tile rows)
    const auto addr = reinterpret_cast<std::uintptr_t>(raw);
    void* scratch = reinterpret_cast<void*>((addr + 63) & ~static_cast<std::uintptr_t>(63));
    if (plan.dtype == DType::f32)
        Block<float>::dispatch(plan, b0, b1, scratch);
    else
        Block<double>::dispatch(plan, b0, b1, scratch);
}

// Stream kernel: blocks b0 .. b1 - 1 of W neighbouring signals (same scratch: one tile).
void run_stream_blocks(const StreamPlan& plan, std::int64_t b0, std::int64_t b1, void* raw) {
    const auto addr = reinterpret_cast<std::uintptr_t>(raw);
    void* scratch = reinterpret_cast<void*>((addr + 63) & ~static_cast<std::uintptr_t>(63));
    if (plan.dtype == DType::f32)
        Block<float>::stream_blocks(plan, b0, b1, scratch);
    else
        Block<double>::stream_blocks(plan, b0, b1, scratch);
}

// Stack bytes the group states of measure_group take (for the driver's room check).
constexpr std::int64_t kGroupStackBytes = [] {
    const std::int64_t f = kGroup * static_cast<std::int64_t>(sizeof(Block<float>::State));
    const std::int64_t d = kGroup * static_cast<std::int64_t>(sizeof(Block<double>::State));
    return f > d ? f : d;
}();

Target target() {
    Target t;
    t.name = SMPFAST_TARGET_NAME;
    t.block_lanes_f32 = Block<float>::W;
    t.block_lanes_f64 = Block<double>::W;
    t.scratch_bytes = kScratchBytes + 64;
    t.group_stack_bytes = kGroupStackBytes;
    t.run_blocks = &run_blocks;
    t.stream_blocks = &run_stream_blocks;
    t.conv2d = &nn::conv_tasks;
    t.max_pool2d = &nn::max_pool_tasks;
    t.avg_pool2d = &nn::avg_pool_tasks;
    t.relu = &nn::act_tasks<0>;
    t.leaky_relu = &nn::act_tasks<1>;
    t.prelu = &nn::act_tasks<2>;
    return t;
}

}  // namespace SMPFAST_NS
}  // namespace smpfast
