#include "net/output_queue.h"

#include <algorithm>
#include <cstring>

namespace portd::net {

void OutputQueue::append(std::string_view data) {
  const size_t block_size = pool_.blockSize();
  while (!data.empty()) {
    if (blocks_.empty() || !blocks_.back().owned || blocks_.back().end == block_size) {
      blocks_.push_back(Block{pool_.acquire(), 0, 0, true});
    }
    Block& b = blocks_.back();
    size_t n = std::min(data.size(), block_size - b.end);
    std::memcpy(b.data + b.end, data.data(), n);
    b.end += n;
    size_ += n;
    data.remove_prefix(n);
  }
}

void OutputQueue::appendReferenced(std::string_view data) {
  if (data.empty()) {
    return;
  }
  blocks_.push_back(Block{const_cast<char*>(data.data()), 0, data.size(), false});
  size_ += data.size();
}

unsigned OutputQueue::peek(uv_buf_t* bufs, unsigned max) const {
  unsigned n = 0;
  for (auto it = blocks_.begin(); it != blocks_.end() && n < max; ++it, ++n) {
    bufs[n] = uv_buf_init(it->data + it->begin, static_cast<unsigned>(it->end - it->begin));
  }
  return n;
}

void OutputQueue::consume(size_t n) {
  size_ -= n;
  while (n > 0) {
    Block& b = blocks_.front();
    size_t take = std::min(n, b.end - b.begin);
    b.begin += take;
    n -= take;
    if (b.begin == b.end) {
      if (b.owned) {
        pool_.release(b.data);
      }
      blocks_.pop_front();
    }
  }
}

void OutputQueue::clear() {
  for (Block& b : blocks_) {
    if (b.owned) {
      pool_.release(b.data);
    }
  }
  blocks_.clear();
  size_ = 0;
}

}  // namespace portd::net
