#include "handlers/smtp/maildir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace portd::handlers::smtp {

namespace {

std::string makeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return "";
    }
    return path + " exists and is not a directory";
  }
  return "cannot create " + path + ": " + std::strerror(errno);
}

int openDir(const std::string& path) {
  return ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

}  // namespace

std::string prepareMaildir(const std::string& dir) {
  for (const std::string& d : {dir, dir + "/tmp", dir + "/new", dir + "/cur"}) {
    std::string error = makeDir(d);
    if (!error.empty()) {
      return error;
    }
  }
  // Checked here rather than at the first message: a sink that cannot store should not start.
  if (::access((dir + "/tmp").c_str(), W_OK | X_OK) != 0 ||
      ::access((dir + "/new").c_str(), W_OK | X_OK) != 0) {
    return dir + "/tmp and " + dir + "/new must be writable";
  }
  return "";
}

void MailFile::write(std::string_view bytes) {
  while (!failed && !bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno != EINTR) {
        failed = true;
      }
      continue;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

MaildirWriter::MaildirWriter(const std::string& dir, uint32_t instance)
    : tmp_fd_(openDir(dir + "/tmp")), new_fd_(openDir(dir + "/new")), instance_(instance) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
    std::strcpy(host, "localhost");
  }
  for (const char* p = host; *p != '\0'; ++p) {
    if (*p == '/') {
      host_ += "\\057";
    } else if (*p == ':') {
      host_ += "\\072";
    } else {
      host_ += *p;
    }
  }
}

MaildirWriter::~MaildirWriter() {
  if (tmp_fd_ >= 0) {
    ::close(tmp_fd_);
  }
  if (new_fd_ >= 0) {
    ::close(new_fd_);
  }
}

bool MaildirWriter::open(MailFile* file) {
  if (!ready()) {
    return false;
  }
  timeval now{};
  ::gettimeofday(&now, nullptr);
  std::snprintf(file->name.data(), file->name.size(), "%lld.M%06ldP%d_%u_%llu.%s",
                static_cast<long long>(now.tv_sec), static_cast<long>(now.tv_usec),
                static_cast<int>(::getpid()), instance_,
                static_cast<unsigned long long>(++counter_), host_.c_str());
  file->failed = false;
  file->fd = ::openat(tmp_fd_, file->name.data(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  return file->fd >= 0;
}

bool MaildirWriter::commit(MailFile* file) {
  bool ok = !file->failed && ::fsync(file->fd) == 0;
  ok = ::close(file->fd) == 0 && ok;
  file->fd = -1;
  // rename() within one file system is atomic: readers of new/ see the whole file or nothing.
  ok = ok && ::renameat(tmp_fd_, file->name.data(), new_fd_, file->name.data()) == 0;
  if (!ok) {
    ::unlinkat(tmp_fd_, file->name.data(), 0);
    return false;
  }
  // The rename is durable once the directory is: only then is the message acknowledged.
  return ::fsync(new_fd_) == 0;
}

void MaildirWriter::discard(MailFile* file) {
  if (file->fd < 0) {
    return;
  }
  ::close(file->fd);
  file->fd = -1;
  ::unlinkat(tmp_fd_, file->name.data(), 0);
}

}  // namespace portd::handlers::smtp
