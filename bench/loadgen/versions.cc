// Per-key versions (versions.h).
#include "versions.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tmc::loadgen {
namespace {

// The file starts with this header (one page, so the words stay page-aligned).
struct Header {
  char magic[8];
  uint64_t keys;
  uint64_t seed;
  uint64_t distinct;  // --distinct (0: off; a file from before the field reads 0 here)
};
constexpr char kMagic[8] = {'T', 'M', 'C', 'L', 'G', 'V', '1', '\0'};
constexpr size_t kHeaderBytes = 4096;

}  // namespace

Versions::~Versions() {
  if (map_) munmap(map_, map_bytes_);
  if (digests_) munmap(digests_, keys_ * sizeof(uint64_t));
}

bool Versions::open(uint64_t keys, uint64_t seed, uint32_t distinct, const std::string& path, std::string* error) {
  keys_ = keys;
  map_bytes_ = kHeaderBytes + keys * sizeof(uint32_t);
  if (path.empty()) {
    map_ = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map_ == MAP_FAILED) {
      map_ = nullptr;
      *error = std::string("mmap: ") + std::strerror(errno);
      return false;
    }
  } else {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    struct stat st {};
    if (fd < 0 || fstat(fd, &st) != 0) {
      *error = "--state " + path + ": " + std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return false;
    }
    const bool fresh = st.st_size == 0;
    if (!fresh && static_cast<size_t>(st.st_size) != map_bytes_) {
      *error = "--state " + path + " was written for another key count (delete it or pass the same --keys)";
      ::close(fd);
      return false;
    }
    if (fresh && ftruncate(fd, static_cast<off_t>(map_bytes_)) != 0) {
      *error = "--state " + path + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    map_ = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (map_ == MAP_FAILED) {
      map_ = nullptr;
      *error = "--state " + path + ": mmap: " + std::strerror(errno);
      return false;
    }
    auto* h = static_cast<Header*>(map_);
    if (fresh) {
      std::memcpy(h->magic, kMagic, sizeof kMagic);
      h->keys = keys;
      h->seed = seed;
      h->distinct = distinct;
    } else if (std::memcmp(h->magic, kMagic, sizeof kMagic) != 0 || h->keys != keys || h->seed != seed ||
               h->distinct != distinct) {
      *error = "--state " + path +
               " does not belong to this dataset (other --keys, --seed or --distinct; delete it to start afresh)";
      return false;
    }
  }
  words_ = reinterpret_cast<std::atomic<uint32_t>*>(static_cast<char*>(map_) + kHeaderBytes);
  // Untouched pages of an anonymous map cost nothing: only keys read or written do.
  void* d = mmap(nullptr, keys * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (d == MAP_FAILED) {
    *error = std::string("mmap: ") + std::strerror(errno);
    return false;
  }
  digests_ = static_cast<std::atomic<uint64_t>*>(d);
  return true;
}

}  // namespace tmc::loadgen
