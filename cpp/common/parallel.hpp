// smpfast: a small persistent thread pool for the kernels' parallel loops (no Python).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace smpfast {

// Run fn(0) .. fn(parts - 1), part 0 on the calling thread, the others on pool threads
// (started on first use and kept). Concurrent callers do not share the pool: a caller
// that finds it busy starts its own threads for that call. Exceptions must not escape fn.
void parallel_for(std::int64_t parts, const std::function<void(std::int64_t)>& fn);

// An uninitialised buffer of at least `doubles` doubles owned by the calling thread and
// kept across calls (pool threads are persistent, so kernels do not pay page faults for
// fresh scratch on every call). Valid until the same thread asks again.
double* thread_scratch(std::size_t doubles);

}  // namespace smpfast
