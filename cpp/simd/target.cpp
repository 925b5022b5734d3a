// smpfast: one SIMD target. CMake compiles this file once per target with its ISA flags
// and SMPFAST_NS / SMPFAST_VBYTES / SMPFAST_UNROLL set; everything it instantiates
// lives in namespace smpfast::SMPFAST_NS, so no code compiled for one ISA can be
// picked by the linker for another.
#include "lanes.hpp"
#include "dispatch.hpp"

namespace smpfast {
namespace SMPFAST_NS {

void run_blocks(const Plan& plan, std::int64_t b0, std::int64_t b1, void* scratch) {
    if (plan.dtype == DType::f32)
        Block<float>::dispatch(plan, b0, b1, scratch);
    else
        Block<double>::dispatch(plan, b0, b1, scratch);
}

Target target() {
    Target t;
    t.name = SMPFAST_TARGET_NAME;
    t.block_lanes_f32 = Block<float>::W;
    t.block_lanes_f64 = Block<double>::W;
    t.scratch_bytes = kTileRows * U * VB;
    t.run_blocks = &run_blocks;
    return t;
}

}  // namespace SMPFAST_NS
}  // namespace smpfast
