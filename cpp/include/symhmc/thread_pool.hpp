// A small persistent thread pool. Work is handed out as numbered tasks; callers make each task write
// its own output slot and reduce in task order afterwards, so results never depend on the thread count.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace symhmc {

class ThreadPool {
 public:
  explicit ThreadPool(int n_workers);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Runs fn(0) … fn(n_tasks - 1) on at most max_threads threads (the caller's included) and returns
  // when all are done. The first exception thrown by a task is rethrown here.
  void run(std::size_t n_tasks, int max_threads, const std::function<void(std::size_t)>& fn);
  int max_threads() const { return static_cast<int>(workers_.size()) + 1; }

 private:
  void worker_loop(int index);
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::mutex run_mutex_;  // one run at a time
  struct Sleeper {  // one per worker, so that a run wakes only the workers it wants
    std::condition_variable wake;
    bool asleep = false;
  };
  std::unique_ptr<Sleeper[]> sleepers_;
  std::condition_variable done_;
  const std::function<void(std::size_t)>* job_ = nullptr;
  std::size_t n_tasks_ = 0, next_task_ = 0;
  std::atomic<std::size_t> finished_{0};  // changed under mutex_; read without it while spinning
  int helpers_wanted_ = 0;
  unsigned long generation_ = 0;
  std::atomic<unsigned long> posted_{0};  // generation_, for workers spinning without the mutex
  bool stop_ = false;
  std::exception_ptr error_;
};

int hardware_threads();
ThreadPool& default_pool();  // sized to the machine, created on first use

}  // namespace symhmc
