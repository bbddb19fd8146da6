#pragma once

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>

namespace portd::net {

// read() and send() without glibc's wrappers, which are cancellation points: in a process with
// threads each call switches asynchronous cancellation on and off around the system call, about
// 30 instructions a call (callgrind: 58 of a keep-alive request's). portd never cancels a
// thread. syscall() sets errno as the wrappers do.
// Sanitizer builds keep the wrappers: their interceptors check the buffers and follow the
// descriptors.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline ssize_t readSocket(int fd, char* buf, size_t size) { return ::read(fd, buf, size); }
inline ssize_t sendSocket(int fd, const char* data, size_t size) {
  return ::send(fd, data, size, MSG_NOSIGNAL);
}
#else
inline ssize_t readSocket(int fd, char* buf, size_t size) {
  return ::syscall(SYS_read, fd, buf, size);
}
inline ssize_t sendSocket(int fd, const char* data, size_t size) {
  return ::syscall(SYS_sendto, fd, data, size, MSG_NOSIGNAL, nullptr, 0);
}
#endif

}  // namespace portd::net
