// memory_log.h (internal to estoria_memory, not installed): the compact storage
// behind MemoryEventStore.
//   Block          memory from the system, huge pages for large blocks
//   ByteArena      append-only bytes in growing chunks; pointers stay valid
//   ChunkedLog<T>  append-only array in doubling chunks; references stay valid
//   IdIndex        open-addressing hash set of positions keyed by event UUID
//
// Thread safety: none of their own; MemoryEventStore guards them with its lock.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "estoria/type_id.h"

namespace estoria::memory::internal {

// A block of memory from the system. Blocks of 2 MiB and more are mapped
// directly, on a 2 MiB boundary, with transparent huge pages requested
// (MADV_HUGEPAGE): filling them takes one page fault per 2 MiB instead of one
// per 4 KiB, and pages never touched are never resident. Smaller blocks come
// from the heap. Contents are zero when `zeroed` (mapped blocks always are).
class Block {
 public:
  static constexpr size_t kHuge = size_t{2} << 20;

  Block() = default;
  Block(size_t n, bool zeroed) : size_(n) {
    if (n >= kHuge) {
      size_t len = (n + kHuge - 1) / kHuge * kHuge;
      void* raw = mmap(nullptr, len + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (raw == MAP_FAILED) throw std::bad_alloc();
      uintptr_t base = reinterpret_cast<uintptr_t>(raw);
      uintptr_t aligned = (base + kHuge - 1) / kHuge * kHuge;
      if (aligned > base) munmap(raw, aligned - base);
      if (size_t tail = base + len + kHuge - (aligned + len); tail > 0) {
        munmap(reinterpret_cast<void*>(aligned + len), tail);
      }
      data_ = reinterpret_cast<char*>(aligned);
      mapped_ = len;
      madvise(data_, len, MADV_HUGEPAGE);  // a hint: without THP, ordinary pages
    } else {
      data_ = static_cast<char*>(zeroed ? std::calloc(n == 0 ? 1 : n, 1) : std::malloc(n == 0 ? 1 : n));
      if (data_ == nullptr) throw std::bad_alloc();
    }
  }
  Block(Block&& o) noexcept : data_(o.data_), size_(o.size_), mapped_(o.mapped_) {
    o.data_ = nullptr;
    o.size_ = o.mapped_ = 0;
  }
  Block& operator=(Block&& o) noexcept {
    if (this != &o) {
      Release();
      data_ = o.data_;
      size_ = o.size_;
      mapped_ = o.mapped_;
      o.data_ = nullptr;
      o.size_ = o.mapped_ = 0;
    }
    return *this;
  }
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
  ~Block() { Release(); }

  char* data() const { return data_; }
  size_t size() const { return size_; }
  bool mapped() const { return mapped_ > 0; }

 private:
  void Release() {
    if (data_ == nullptr) return;
    if (mapped_ > 0) {
      munmap(data_, mapped_);
    } else {
      std::free(data_);
    }
    data_ = nullptr;
  }

  char* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;  // bytes mapped (0: from the heap)
};

// Bytes copied into chunks that double from `first_chunk` up to `max_chunk`
// (so that a small store stays small and a large one fills huge pages); a
// request larger than a quarter of `max_chunk` gets a block of its own, so
// that a large payload never wastes the rest of a chunk. Memory is released
// only when the arena is destroyed.
class ByteArena {
 public:
  explicit ByteArena(size_t first_chunk = size_t{64} << 10, size_t max_chunk = size_t{8} << 20)
      : next_chunk_(first_chunk), max_chunk_(std::max(first_chunk, max_chunk)) {}

  // A stable copy of `n` bytes at `src` (n may be 0: a valid, empty pointer).
  char* Copy(const char* src, size_t n) {
    char* p = Allocate(n);
    if (n > 0) std::memcpy(p, src, n);
    return p;
  }

  // `n` uninitialized bytes, valid for the arena's life.
  char* Allocate(size_t n) {
    if (n > max_chunk_ / 4) {
      blocks_.emplace_back(n, false);
      reserved_ += n;
      return blocks_.back().data();
    }
    if (n > left_ || cur_ == nullptr) {
      size_t size = std::max(next_chunk_, std::bit_ceil(std::max<size_t>(n, 1)));
      next_chunk_ = std::min(next_chunk_ * 2, max_chunk_);
      blocks_.emplace_back(size, false);
      reserved_ += size;
      cur_ = blocks_.back().data();
      left_ = size;
    }
    char* p = cur_;
    cur_ += n;
    left_ -= n;
    return p;
  }

  // Blocks taken from the system so far (shared chunks and large blocks), and
  // their bytes.
  size_t block_count() const { return blocks_.size(); }
  size_t bytes_reserved() const { return reserved_; }

 private:
  size_t next_chunk_;
  size_t max_chunk_;
  std::vector<Block> blocks_;
  char* cur_ = nullptr;
  size_t left_ = 0;
  size_t reserved_ = 0;
};

// An append-only array of trivially copyable T in chunks that double in size
// (2^kFirst elements, then 2^(kFirst+1), ...): growing never moves or copies an
// element, element i is found with a few bit operations, and the large chunks
// are huge-page Blocks.
template <typename T, unsigned kFirst = 6>
class ChunkedLog {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  size_t size() const { return size_; }
  T& operator[](size_t i) { return *Slot(i); }
  const T& operator[](size_t i) const { return *Slot(i); }

  T& push_back(const T& value) {
    size_t j = size_ + (size_t{1} << kFirst);
    unsigned k = static_cast<unsigned>(std::bit_width(j)) - 1 - kFirst;
    if (k == chunks_.size()) chunks_.emplace_back((size_t{1} << (k + kFirst)) * sizeof(T), false);
    T* slot = new (Slot(size_)) T(value);
    ++size_;
    return *slot;
  }
  size_t chunk_count() const { return chunks_.size(); }

 private:
  T* Slot(size_t i) const {
    size_t j = i + (size_t{1} << kFirst);
    unsigned k = static_cast<unsigned>(std::bit_width(j)) - 1 - kFirst;
    size_t offset = j - (size_t{1} << (k + kFirst));
    return reinterpret_cast<T*>(chunks_[k].data()) + offset;
  }

  std::vector<Block> chunks_;
  size_t size_ = 0;
};

// The set of stored events' positions, found by the event's UUID. Slots hold
// positions only (8 bytes each, load factor at most 1/2, in a zeroed Block); the
// UUID of a position is asked of `id_at`, so that ids are stored once, in the
// log.
class IdIndex {
 public:
  // id_at(position) -> const Uuid&: the id of the live event at `position`.
  template <typename IdAt>
  int64_t Find(const Uuid& id, const IdAt& id_at) const {
    if (capacity_ == 0) return 0;
    const uint64_t* slots = Slots();
    const size_t mask = capacity_ - 1;
    for (size_t i = Hash(id) & mask;; i = (i + 1) & mask) {
      uint64_t s = slots[i];
      if (s == kEmpty) return 0;
      if (s != kTombstone && id_at(static_cast<int64_t>(s)) == id) return static_cast<int64_t>(s);
    }
  }

  // Adds `position` (> 0) under `id`, which must not be stored yet.
  template <typename IdAt>
  void Insert(const Uuid& id, int64_t position, const IdAt& id_at) {
    if ((used_ + 1) * 2 > capacity_) Rehash(id_at);
    if (Place(Slots(), capacity_, id, static_cast<uint64_t>(position))) ++used_;
    ++live_;
  }

  // Removes `position`, stored under `id`. False when it is not there.
  bool Erase(const Uuid& id, int64_t position) {
    if (capacity_ == 0) return false;
    uint64_t* slots = Slots();
    const size_t mask = capacity_ - 1;
    for (size_t i = Hash(id) & mask;; i = (i + 1) & mask) {
      uint64_t s = slots[i];
      if (s == kEmpty) return false;
      if (s == static_cast<uint64_t>(position)) {
        slots[i] = kTombstone;
        --live_;
        return true;
      }
    }
  }

  size_t size() const { return live_; }
  size_t capacity() const { return capacity_; }

 private:
  static constexpr uint64_t kEmpty = 0;
  static constexpr uint64_t kTombstone = ~uint64_t{0};

  static size_t Hash(const Uuid& id) {
    uint64_t a, b;
    std::memcpy(&a, id.bytes().data(), 8);
    std::memcpy(&b, id.bytes().data() + 8, 8);
    uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
    return static_cast<size_t>(h ^ (h >> 31));
  }

  uint64_t* Slots() const { return reinterpret_cast<uint64_t*>(block_.data()); }

  // Puts `position` in the first free slot; true when that slot was empty
  // (not a tombstone).
  static bool Place(uint64_t* slots, size_t capacity, const Uuid& id, uint64_t position) {
    const size_t mask = capacity - 1;
    size_t i = Hash(id) & mask;
    while (slots[i] != kEmpty && slots[i] != kTombstone) i = (i + 1) & mask;
    bool fresh = slots[i] == kEmpty;
    slots[i] = position;
    return fresh;
  }

  // Grows (or, when mostly tombstones, just cleans) the table; drops tombstones.
  template <typename IdAt>
  void Rehash(const IdAt& id_at) {
    size_t cap = capacity_ == 0 ? 64 : capacity_;
    while ((live_ + 1) * 4 > cap) cap *= 2;  // at most 1/4 full after, 1/2 before the next
    Block fresh(cap * sizeof(uint64_t), /*zeroed=*/true);
    uint64_t* to = reinterpret_cast<uint64_t*>(fresh.data());
    const uint64_t* from = Slots();
    for (size_t i = 0; i < capacity_; ++i) {
      uint64_t s = from[i];
      if (s != kEmpty && s != kTombstone) Place(to, cap, id_at(static_cast<int64_t>(s)), s);
    }
    block_ = std::move(fresh);
    capacity_ = cap;
    used_ = live_;
  }

  Block block_;  // capacity_ slots, a power of two; 0 = empty, ~0 = tombstone
  size_t capacity_ = 0;
  size_t used_ = 0;  // live + tombstones
  size_t live_ = 0;
};

}  // namespace estoria::memory::internal
