#pragma once

// ThreadSanitizer follows descriptors through the libc calls it intercepts, but libuv closes
// them with syscall(SYS_close), which it does not see. A number that libuv closed on one worker
// and the kernel then handed out again on another thread (accept, dup) would look like a race
// on that descriptor. Just before each close that libuv does for us, say so (before: once the
// kernel has the number back, another thread may be given it).
#if defined(__SANITIZE_THREAD__)
extern "C" {
void __sanitizer_syscall_pre_impl_close(long fd);
void __sanitizer_syscall_post_impl_close(long res, long fd);
}
#endif

namespace portd::core {

inline void noteClosedByLibuv([[maybe_unused]] int fd) {
#if defined(__SANITIZE_THREAD__)
  if (fd >= 0) {
    __sanitizer_syscall_pre_impl_close(fd);
    __sanitizer_syscall_post_impl_close(0, fd);
  }
#endif
}

}  // namespace portd::core
