// smpfast: the persistent thread pool behind parallel_for.
#include "parallel.hpp"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace smpfast {
namespace {

class Pool {
  public:
    // Threads are detached and live as long as the process; a forked child starts with
    // an empty pool (see reset_after_fork).
    void run(std::int64_t parts, const std::function<void(std::int64_t)>& fn) {
        grow(parts - 1);
        {
            std::lock_guard<std::mutex> lock(m_);
            job_ = &fn;
            parts_ = parts;
            next_.store(1);
            done_ = 0;
            ++generation_;
        }
        cv_.notify_all();
        fn(0);
        work();  // help with parts the workers have not taken yet
        std::unique_lock<std::mutex> lock(m_);
        // all parts done, and no worker still holds this job
        done_cv_.wait(lock, [&] { return done_ + helped_ == parts_ - 1 && active_ == 0; });
        job_ = nullptr;
        helped_ = 0;
    }

    void reset_after_fork() {
        // The child has no worker threads; forget them (and any held locks).
        new (&m_) std::mutex();
        new (&cv_) std::condition_variable();
        new (&done_cv_) std::condition_variable();
        generation_.store(0);
        workers_ = 0;
        job_ = nullptr;
        helped_ = 0;
        active_ = 0;
    }

  private:
    void grow(std::int64_t want) {
        while (workers_ < want) {
            std::thread(&Pool::loop, this, generation_.load()).detach();
            ++workers_;
        }
    }

    // The caller takes parts too; those count as `helped_` so the wait below does not
    // expect a worker to report them.
    void work() {
        for (;;) {
            const std::int64_t i = next_.fetch_add(1);
            if (i >= parts_) return;
            (*job_)(i);
            std::lock_guard<std::mutex> lock(m_);
            ++helped_;
        }
    }

    void loop(std::uint64_t seen) {
        for (;;) {
            const std::function<void(std::int64_t)>* job;
            std::int64_t parts;
            // Spin a little before sleeping: back-to-back calls then skip the wake-up latency.
            const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
            for (int k = 0; generation_.load(std::memory_order_acquire) == seen; ++k) {
                if ((k & 63) == 0 && std::chrono::steady_clock::now() > until) break;
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
            }
            {
                std::unique_lock<std::mutex> lock(m_);
                cv_.wait(lock, [&] { return generation_ != seen && job_ != nullptr; });
                seen = generation_;
                job = job_;
                parts = parts_;
                ++active_;
            }
            std::int64_t mine = 0;
            for (;;) {
                const std::int64_t i = next_.fetch_add(1);
                if (i >= parts) break;
                (*job)(i);
                ++mine;
            }
            {
                std::lock_guard<std::mutex> lock(m_);
                done_ += mine;
                --active_;
            }
            done_cv_.notify_one();
        }
    }

    std::mutex m_;
    std::condition_variable cv_, done_cv_;
    const std::function<void(std::int64_t)>* job_ = nullptr;
    std::int64_t parts_ = 0;
    std::atomic<std::int64_t> next_{0};
    std::int64_t done_ = 0;    // parts finished by workers
    std::int64_t helped_ = 0;  // parts finished by the caller after part 0
    std::int64_t active_ = 0;  // workers holding the current job
    std::atomic<std::uint64_t> generation_{0};
    std::int64_t workers_ = 0;
};

Pool& pool() {
    static Pool* p = [] {
        auto* q = new Pool();  // never destroyed: detached workers may outlive statics
        pthread_atfork(nullptr, nullptr, [] { pool().reset_after_fork(); });
        return q;
    }();
    return *p;
}

std::mutex& pool_in_use() {
    static auto* m = new std::mutex();
    return *m;
}

}  // namespace

double* thread_scratch(std::size_t doubles) {
    thread_local std::unique_ptr<double[]> buffer;
    thread_local std::size_t capacity = 0;
    if (capacity < doubles) {
        buffer.reset(new double[doubles]);
        capacity = doubles;
    }
    return buffer.get();
}

void parallel_for(std::int64_t parts, const std::function<void(std::int64_t)>& fn) {
    if (parts <= 1) {
        if (parts == 1) fn(0);
        return;
    }
    std::unique_lock<std::mutex> busy(pool_in_use(), std::try_to_lock);
    if (busy.owns_lock()) {
        pool().run(parts, fn);
        return;
    }
    std::vector<std::thread> threads;
    for (std::int64_t i = 1; i < parts; ++i) threads.emplace_back(fn, i);
    fn(0);
    for (auto& t : threads) t.join();
}

}  // namespace smpfast
