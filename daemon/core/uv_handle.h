#pragma once

#include <uv.h>

#include <utility>

namespace portd::core {

// Owns one heap-allocated libuv handle. The destructor calls uv_close() and the close callback
// frees the memory, because libuv may still touch the handle until that callback has run: the
// handle can outlive its owner by one loop turn. A handle that was never initialised is simply
// deleted.
template <typename T>
class UvHandle {
 public:
  UvHandle() : handle_(new T{}) {}
  ~UvHandle() { reset(); }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;
  UvHandle(UvHandle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  UvHandle& operator=(UvHandle&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }

  T* get() const { return handle_; }
  T* operator->() const { return handle_; }
  uv_handle_t* handle() const { return reinterpret_cast<uv_handle_t*>(handle_); }
  explicit operator bool() const { return handle_ != nullptr; }

  // Closes the handle now (if it is open) and forgets it.
  void reset() {
    if (handle_ == nullptr) {
      return;
    }
    auto* h = reinterpret_cast<uv_handle_t*>(std::exchange(handle_, nullptr));
    // A zero-initialised handle has type UV_UNKNOWN_HANDLE until a uv_*_init succeeds.
    if (h->type == UV_UNKNOWN_HANDLE) {
      delete reinterpret_cast<T*>(h);
    } else if (!uv_is_closing(h)) {
      h->data = nullptr;
      uv_close(h, [](uv_handle_t* closed) { delete reinterpret_cast<T*>(closed); });
    }
  }

 private:
  T* handle_;
};

}  // namespace portd::core
