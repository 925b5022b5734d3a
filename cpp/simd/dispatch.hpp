// smpfast: run-time choice of the SIMD target (no Python).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../nn/plan.hpp"
#include "../smp/plan.hpp"

namespace smpfast {

using RunBlocks = void (*)(const Plan&, std::int64_t, std::int64_t, void*);
using StreamBlocks = void (*)(const StreamPlan&, std::int64_t, std::int64_t, void*);
using ConvTasks = void (*)(const ConvPlan&, std::int64_t, std::int64_t, void*);
using PoolTasks = void (*)(const PoolPlan&, std::int64_t, std::int64_t, void*);
using ActTasks = void (*)(const ActPlan&, std::int64_t, std::int64_t, void*);

struct Target {
    const char* name = "";
    int block_lanes_f32 = 1;        // signals per block, float32 input
    int block_lanes_f64 = 1;        // signals per block, float64 input
    std::int64_t scratch_bytes = 0; // per-thread scratch (tile or group states)
    std::int64_t group_stack_bytes = 0;  // stack a group of states takes when on the stack
    RunBlocks run_blocks = nullptr;
    StreamBlocks stream_blocks = nullptr;  // SMPStream update (same blocks, same scratch)
    // building blocks (nn/kernels.hpp)
    ConvTasks conv2d = nullptr;
    PoolTasks max_pool2d = nullptr;
    PoolTasks avg_pool2d = nullptr;
    ActTasks relu = nullptr;
    ActTasks leaky_relu = nullptr;
    ActTasks prelu = nullptr;
};

namespace simd {

// Targets compiled into this build that this CPU can run, best first.
std::vector<std::string> supported_targets();
// Every target compiled into this build.
std::vector<std::string> compiled_targets();
// The target in use (chosen at load time from the CPU, SMPFAST_SIMD may lower it).
const Target& active();
// Select a target by name; returns false if it is not supported here.
bool set_active(const std::string& name);

}  // namespace simd
}  // namespace smpfast
