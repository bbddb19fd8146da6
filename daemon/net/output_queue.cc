#include "net/output_queue.h"

#include <algorithm>
#include <cstring>

namespace portd::net {

void OutputQueue::append(std::string_view data) {
  const size_t block_size = pool_.blockSize();
  while (!data.empty()) {
    if (blocks_.size() == head_ || !blocks_.back().owned || blocks_.back().end == block_size) {
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

unsigned OutputQueue::peek(iovec* bufs, unsigned max) const {
  unsigned n = 0;
  for (auto it = blocks_.begin() + static_cast<std::ptrdiff_t>(head_);
       it != blocks_.end() && n < max; ++it, ++n) {
    bufs[n] = iovec{it->data + it->begin, it->end - it->begin};
  }
  return n;
}

void OutputQueue::consume(size_t n) {
  size_ -= n;
  while (n > 0) {
    Block& b = blocks_[head_];
    size_t take = std::min(n, b.end - b.begin);
    b.begin += take;
    n -= take;
    if (b.begin == b.end) {
      if (b.owned) {
        pool_.release(b.data);
      }
      ++head_;
    }
  }
  if (head_ == blocks_.size()) {
    // Drained. A small vector is kept for the next time the peer falls behind (no allocation
    // per slow write); a large one, left by a burst, goes back to malloc.
    head_ = 0;
    if (blocks_.capacity() > 16) {
      std::vector<Block>().swap(blocks_);
    } else {
      blocks_.clear();
    }
  } else if (head_ >= 8 && head_ * 2 >= blocks_.size()) {
    // A queue that never drains (a long stream to a slow reader) drops its front now and then,
    // so that it does not grow by a block per block sent.
    blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

void OutputQueue::clear() {
  for (size_t i = head_; i < blocks_.size(); ++i) {
    if (blocks_[i].owned) {
      pool_.release(blocks_[i].data);
    }
  }
  // The storage goes too: queues are used only while a peer reads slower than it is written to,
  // and an idle connection should cost nothing for it.
  std::vector<Block>().swap(blocks_);
  head_ = 0;
  size_ = 0;
}

}  // namespace portd::net
