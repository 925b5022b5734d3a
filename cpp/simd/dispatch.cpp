// smpfast: run-time SIMD dispatch. Compiled without ISA flags.
#include "dispatch.hpp"

#include <cstdlib>
#include <cstring>

namespace smpfast {
namespace baseline { Target target(); }
#if defined(SMPFAST_X86_TARGETS)
namespace avx2 { Target target(); }
namespace avx512 { Target target(); }
#endif

namespace simd {
namespace {

struct Entry {
    const char* name;  // the target's name, known without calling make(): make() runs code
                       // compiled for the target's ISA, so only call it where supported
    Target (*make)();
    bool (*supported)();
};

bool always() { return true; }
#if defined(SMPFAST_X86_TARGETS)
bool has_avx2() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
bool has_avx512() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
}
#endif

const std::vector<Entry>& entries() {
    static const std::vector<Entry> all = {
#if defined(SMPFAST_X86_TARGETS)
        {"avx512", &avx512::target, &has_avx512},
        {"avx2", &avx2::target, &has_avx2},
#endif
        {"baseline", &baseline::target, &always},
    };
    return all;
}

Target pick_initial() {
    // SMPFAST_SIMD=<name> selects a lower target (a higher one than the CPU has is ignored).
    const char* env = std::getenv("SMPFAST_SIMD");
    for (const auto& e : entries()) {
        if (!e.supported()) continue;
        if (env == nullptr || *env == '\0' || std::strcmp(env, e.name) == 0) return e.make();
    }
    for (const auto& e : entries())
        if (e.supported()) return e.make();
    return baseline::target();
}

Target& current() {
    static Target t = pick_initial();
    return t;
}

}  // namespace

std::vector<std::string> supported_targets() {
    std::vector<std::string> names;
    for (const auto& e : entries())
        if (e.supported()) names.emplace_back(e.name);
    return names;
}

std::vector<std::string> compiled_targets() {
    std::vector<std::string> names;
    for (const auto& e : entries()) names.emplace_back(e.name);
    return names;
}

const Target& active() { return current(); }

bool set_active(const std::string& name) {
    for (const auto& e : entries()) {
        if (!e.supported() || name != e.name) continue;
        current() = e.make();
        return true;
    }
    return false;
}

}  // namespace simd
}  // namespace smpfast
