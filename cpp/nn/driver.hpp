// smpfast: building-block entry points, threaded over tasks (no Python).
#pragma once

#include "plan.hpp"

namespace smpfast {
namespace nn {

void conv2d(const ConvPlan& plan, int threads);
void max_pool2d(const PoolPlan& plan, int threads);
void avg_pool2d(const PoolPlan& plan, int threads);
// kind: 0 relu, 1 leaky_relu, 2 prelu
void activation(const ActPlan& plan, int kind, int threads);

}  // namespace nn
}  // namespace smpfast
