#pragma once

#include <uv.h>

#include <functional>
#include <mutex>
#include <vector>

#include "core/uv_handle.h"

namespace portd::core {

// Lets any thread run a function on one loop's thread. Used for control messages (drain, stop,
// new configuration), never on the request path. As in Envoy's Dispatcher::post(), the loop is
// woken only when the queue goes from empty to non-empty.
class Mailbox {
 public:
  // Must be called on the loop's thread.
  explicit Mailbox(uv_loop_t* loop);
  ~Mailbox();

  // Any thread. Returns false once the mailbox is closed; the function is then dropped.
  bool post(std::function<void()> fn);
  // Loop thread. Stops accepting messages and releases the loop handle, so that the loop can
  // end. Messages already queued are dropped.
  void close();

 private:
  static void onAsync(uv_async_t* async);
  void drain();

  UvHandle<uv_async_t> async_;
  std::mutex mutex_;
  std::vector<std::function<void()>> queue_;
  bool closed_ = false;
};

}  // namespace portd::core
