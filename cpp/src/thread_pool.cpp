#include "symhmc/thread_pool.hpp"

#include <algorithm>
#include <chrono>

namespace symhmc {

ThreadPool::ThreadPool(int n_workers) : sleepers_(new Sleeper[std::max(n_workers, 0)]) {
  for (int i = 0; i < n_workers; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  for (std::size_t i = 0; i < workers_.size(); ++i) sleepers_[i].wake.notify_one();
  for (auto& w : workers_) w.join();
}

namespace {

// Waits up to ~50 us for done() to hold. A sampler posts its next batch of tasks a few microseconds
// after the last one ends, and putting a thread to sleep and waking it costs tens of microseconds.
template <class Done>
bool spin_until(Done done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    if (std::chrono::steady_clock::now() > until) return false;
  }
}

}  // namespace

void ThreadPool::worker_loop(int index) {
  unsigned long seen = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    lock.unlock();
    spin_until([&] { return posted_.load(std::memory_order_acquire) != seen; });
    lock.lock();
    Sleeper& me = sleepers_[index];
    me.asleep = true;
    me.wake.wait(lock, [&] { return stop_ || (generation_ != seen && index < helpers_wanted_); });
    me.asleep = false;
    if (stop_) return;
    seen = generation_;
    while (next_task_ < n_tasks_) {
      std::size_t task = next_task_++;
      lock.unlock();
      try {
        (*job_)(task);
      } catch (...) {
        std::lock_guard<std::mutex> g(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      lock.lock();
      if (++finished_ == n_tasks_) done_.notify_all();
    }
  }
}

void ThreadPool::run(std::size_t n_tasks, int max_threads, const std::function<void(std::size_t)>& fn) {
  if (n_tasks == 0) return;
  const int helpers = std::min<int>({max_threads - 1, static_cast<int>(workers_.size()),
                                     static_cast<int>(n_tasks) - 1});
  if (helpers <= 0) {  // no hand-off: the cheapest path for small work
    for (std::size_t i = 0; i < n_tasks; ++i) fn(i);
    return;
  }
  std::lock_guard<std::mutex> one_run(run_mutex_);
  std::unique_lock<std::mutex> lock(mutex_);
  job_ = &fn;
  n_tasks_ = n_tasks;
  next_task_ = 0;
  finished_ = 0;
  error_ = nullptr;
  helpers_wanted_ = helpers;
  ++generation_;
  posted_.store(generation_, std::memory_order_release);
  for (int i = 0; i < helpers; ++i)
    if (sleepers_[i].asleep) sleepers_[i].wake.notify_one();
  while (next_task_ < n_tasks_) {
    std::size_t task = next_task_++;
    lock.unlock();
    try {
      fn(task);
    } catch (...) {
      std::lock_guard<std::mutex> g(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    lock.lock();
    ++finished_;
  }
  if (finished_ != n_tasks_) {
    lock.unlock();
    spin_until([&] { return finished_.load(std::memory_order_acquire) == n_tasks_; });
    lock.lock();
    done_.wait(lock, [&] { return finished_ == n_tasks_; });
  }
  job_ = nullptr;
  helpers_wanted_ = 0;
  if (error_) std::rethrow_exception(error_);
}

int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool& default_pool() {
  static ThreadPool pool(hardware_threads() - 1);
  return pool;
}

}  // namespace symhmc
