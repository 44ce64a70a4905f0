// Memory for the benchmark's own bookkeeping, mapped directly and so outside the heap libtmc
// manages: the accessors read the chunk table on every access and the measurements write
// their samples while the window runs. Kept out of the heap, none of it can be evicted and
// fault, so every fault libtmc counts while cold pages are left alone is a hot-set fault.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace acc {

// A fixed-size array of trivially constructible T in anonymous memory (zero-filled).
template <typename T>
class OutsideArray {
 public:
  OutsideArray() = default;
  OutsideArray(const OutsideArray&) = delete;
  OutsideArray& operator=(const OutsideArray&) = delete;
  ~OutsideArray() {
    if (data_ != nullptr) munmap(data_, bytes());
  }

  // Exits with a message if the kernel refuses: nothing can be measured without it.
  void allocate(size_t n) {
    n_ = n;
    void* p = mmap(nullptr, bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      fprintf(stderr, "bench_hotset: mmap of %zu bytes for bookkeeping failed\n", bytes());
      exit(2);
    }
    data_ = new (p) T[n];
  }

  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T* data() { return data_; }
  size_t size() const { return n_; }

 private:
  size_t bytes() const { return n_ * sizeof(T) > 0 ? n_ * sizeof(T) : 1; }
  T* data_ = nullptr;
  size_t n_ = 0;
};

}  // namespace acc
