// See file_store.h.
#include "pool/file_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sys/syscall.h>

#include <bit>

#include "base/log.h"
#include "platform/env.h"
#include "platform/fd_table.h"

namespace tmc::pool {

namespace {
constexpr unsigned kGenerationShift = 40;
constexpr uint64_t kUnitMask = (uint64_t{1} << kGenerationShift) - 1;

// The first run of `units` clear bits in a group's word, or -1: after n-1 rounds of
// free &= free >> 1, bit i is set where bits i..i+n-1 all were clear.
int find_run(uint64_t used, uint32_t units) {
  uint64_t free = ~used;
  for (uint32_t i = 1; i < units && free != 0; ++i) free &= free >> 1;
  // A run may not wrap past bit 63: the shifts bring in zeros from the top, so it cannot.
  return free == 0 ? -1 : std::countr_zero(free);
}

uint64_t run_mask(uint32_t first, uint32_t units) {
  return (units == 64 ? ~uint64_t{0} : ((uint64_t{1} << units) - 1)) << first;
}

// The longest run of clear bits: each round of free &= free >> 1 shortens every run by one.
uint32_t longest_run(uint64_t used) {
  uint64_t free = ~used;
  uint32_t n = 0;
  for (; free != 0; ++n) free &= free >> 1;
  return n;
}
}  // namespace

bool FileStore::init(const char* dir, uint64_t max_bytes) {
  const size_t len = strlen(dir);
  if (len == 0 || len >= sizeof(dir_)) {
    errno = ENAMETOOLONG;
    return false;
  }
  memcpy(dir_, dir, len + 1);
  const uint64_t groups = max_bytes / (uint64_t{kUnit} * kGroupUnits);
  if (groups == 0) {
    errno = EINVAL;
    return false;
  }
  // Address space for the whole bitmap and the room maps (kRoomClasses bits per group,
  // rounded up to words); pages are touched as groups come into use.
  room_words_ = (groups + 63) / 64;
  const size_t bytes = (groups + kRoomClasses * room_words_) * sizeof(uint64_t);
  void* bits = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (bits == MAP_FAILED) return false;
  const int fd = open_file();
  if (fd < 0) {
    const int err = errno;
    munmap(bits, bytes);
    errno = err;
    return false;
  }
  close(fd);
  // Tests: writes fail (EIO) after this many, as on a failing disk.
  const char* fail = platform::env_get("TMC_TEST_FILE_FAIL_AFTER");
  fail_after_ = fail != nullptr ? strtoull(fail, nullptr, 10) : UINT64_MAX;
  bitmap_ = static_cast<uint64_t*>(bits);
  for (int c = 0; c < kRoomClasses; ++c) room_[c] = bitmap_ + groups + c * room_words_;
  max_units_ = groups * kGroupUnits;
  return true;
}

// A file nobody can open by name: O_TMPFILE where the file system has it, else a name
// unlinked at once.
int FileStore::open_file() const {
  int fd = open(dir_, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return fd;
  char path[sizeof(dir_) + 16];
  const size_t len = strlen(dir_);
  memcpy(path, dir_, len);
  memcpy(path + len, "/tmc.XXXXXX", 12);
  fd = mkostemp(path, O_CLOEXEC);
  if (fd >= 0) unlink(path);
  return fd;
}

bool FileStore::open_generation() {
  int slot = -1;
  {
    SpinLockGuard guard(lock_);
    for (int g = 0; g < kMaxGenerations && slot < 0; ++g)
      if (gens_[g].state == GenState::kFree) slot = g;
  }
  if (slot < 0) {
    errno = EMFILE;
    return false;
  }
  const int fd = open_file();
  if (fd < 0) return false;
  // The maps held the sealed generation's units: clear them (and give their pages back).
  if (groups_used_ != 0) {
    auto drop = [](uint64_t* p, uint64_t words) {
      madvise(p, (words * sizeof(uint64_t) + 4095) & ~size_t{4095}, MADV_DONTNEED);
    };
    drop(bitmap_, groups_used_);
    for (uint64_t* room : room_) drop(room, (groups_used_ + 63) / 64);
  }
  SpinLockGuard guard(lock_);
  groups_used_ = 0;
  cursor_ = 0;
  Generation& g = gens_[slot];
  g = Generation{};
  g.fd = fd;
  g.shared_fd = !private_tables_;
  g.reader_fd = g.shared_fd ? fd : -1;
  g.state = GenState::kCurrent;
  current_ = slot;
  return true;
}

void FileStore::set_writer_thread() { writer_tid_ = static_cast<int>(syscall(SYS_gettid)); }

int FileStore::reader_fd(int gen) {
  Generation& g = gens_[gen];
  if (!private_tables_ || static_cast<int>(syscall(SYS_gettid)) == writer_tid_) return g.fd;
  if (g.reader_fd < 0 && g.fd >= 0) {
    // The fault thread's first read of this file: a descriptor of its own (the writer is
    // alive: a generation holding blobs is never closed).
    const int fd = platform::fetch_thread_fd(writer_tid_, g.fd);
    SpinLockGuard guard(lock_);
    if (g.reader_fd < 0) g.reader_fd = fd;
    else if (fd >= 0) close(fd);
  }
  return g.reader_fd;
}

uint64_t FileStore::disk_units_locked() const {
  uint64_t units = 0;
  for (const Generation& g : gens_)
    if (g.state != GenState::kFree) units += g.disk_units;
  return units;
}

// The room maps say which groups have a free run of at least kRoomUnits[c] units; kept
// in step with the group's word after every change.
void FileStore::update_room_locked(uint64_t group) {
  const uint32_t run = longest_run(bitmap_[group]);
  const uint64_t bit = uint64_t{1} << (group % 64);
  for (int c = 0; c < kRoomClasses; ++c) {
    if (run >= kRoomUnits[c]) room_[c][group / 64] |= bit;
    else room_[c][group / 64] &= ~bit;
  }
}

uint64_t FileStore::allocate_locked(uint32_t units) {
  Generation& g = gens_[current_];
  // Groups in use with room first, from the cursor on (freed units are reused before the
  // file grows), in the smallest room class that always fits: no search meets a group
  // that cannot take the blob.
  int c = 0;
  while (kRoomUnits[c] < units) ++c;
  const uint64_t words = (groups_used_ + 63) / 64;
  for (uint64_t i = 0; i <= words && words != 0; ++i) {
    const uint64_t w = (cursor_ / 64 + i) % words;
    uint64_t bits = room_[c][w];
    if (i == 0) bits &= ~uint64_t{0} << (cursor_ % 64);  // the word's groups before the cursor come last
    else if (i == words) bits &= ~(~uint64_t{0} << (cursor_ % 64));
    if (bits == 0) continue;
    const uint64_t group = w * 64 + static_cast<uint64_t>(std::countr_zero(bits));
    const int first = find_run(bitmap_[group], units);
    if (first < 0) continue;  // cannot happen: the room map says it fits
    bitmap_[group] |= run_mask(static_cast<uint32_t>(first), units);
    update_room_locked(group);
    cursor_ = group;
    return group * kGroupUnits + static_cast<uint64_t>(first);
  }
  if ((groups_used_ + 1) * kGroupUnits > max_units_ ||
      disk_units_locked() - g.disk_units + (groups_used_ + 1) * kGroupUnits > max_units_)
    return kNoLocation;
  const uint64_t group = groups_used_++;
  bitmap_[group] = run_mask(0, units);
  update_room_locked(group);
  g.disk_units = groups_used_ * kGroupUnits;
  cursor_ = group;
  return group * kGroupUnits;
}

uint64_t FileStore::write(const void* data, uint32_t size) {
  if (!enabled() || size == 0 || size > kGroupUnits * kUnit / 2) {
    errno = EINVAL;
    return kNoLocation;
  }
  if (current_ < 0 && !open_generation()) {
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    return kNoLocation;
  }
  const uint32_t units = units_of(size);
  uint64_t unit;
  int fd;
  int gen;
  {
    SpinLockGuard guard(lock_);
    gen = current_;
    unit = allocate_locked(units);
    if (unit == kNoLocation) {
      full_.fetch_add(1, std::memory_order_relaxed);
      errno = ENOSPC;
      return kNoLocation;
    }
    fd = gens_[gen].fd;
  }
  const uint64_t offset = unit * kUnit;
  ssize_t n;
  if (writes_.load(std::memory_order_relaxed) >= fail_after_) {
    errno = EIO;
    n = -1;
  } else {
    n = pwrite(fd, data, size, static_cast<off_t>(offset));
  }
  if (n != static_cast<ssize_t>(size)) {
    const int err = n < 0 ? errno : ENOSPC;  // a short write is a full disk
    SpinLockGuard guard(lock_);
    bitmap_[unit / kGroupUnits] &= ~run_mask(static_cast<uint32_t>(unit % kGroupUnits), units);
    update_room_locked(unit / kGroupUnits);
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    errno = err;
    return kNoLocation;
  }
  {
    SpinLockGuard guard(lock_);
    gens_[gen].blobs++;
    gens_[gen].blob_bytes += size;
  }
  writes_.fetch_add(1, std::memory_order_relaxed);
  if (dirty_fd_ != fd) {
    flush();
    dirty_fd_ = fd;
  }
  if (offset < dirty_from_) dirty_from_ = offset;
  if (offset + size > dirty_to_) dirty_to_ = offset + size;
  return static_cast<uint64_t>(gen) << kGenerationShift | unit;
}

void FileStore::flush() {
  if (dirty_fd_ >= 0 && dirty_to_ > dirty_from_) {
    const off_t from = static_cast<off_t>(dirty_from_ & ~uint64_t{4095});
    const off_t len = static_cast<off_t>(dirty_to_) - from;
    // Written back first: POSIX_FADV_DONTNEED drops clean pages only.
    sync_file_range(dirty_fd_, from, len, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    posix_fadvise(dirty_fd_, from, len, POSIX_FADV_DONTNEED);
  }
  dirty_fd_ = -1;
  dirty_from_ = UINT64_MAX;
  dirty_to_ = 0;
}

bool FileStore::read(uint64_t location, uint32_t size, void* buf) {
  if (closing_.load(std::memory_order_acquire) && private_tables_ &&
      static_cast<int>(syscall(SYS_gettid)) != writer_tid_)
    close_readers();
  const auto gen = static_cast<int>(location >> kGenerationShift);
  const int fd = gen < kMaxGenerations ? reader_fd(gen) : -1;
  if (fd < 0) {
    read_errors_.fetch_add(1, std::memory_order_relaxed);
    errno = EBADF;
    return false;
  }
  const off_t offset = static_cast<off_t>((location & kUnitMask) * kUnit);
  const ssize_t n = pread(fd, buf, size, offset);
  if (n == static_cast<ssize_t>(size)) {
    reads_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  if (n >= 0) errno = EIO;  // the file is shorter than what was written to it
  read_errors_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void FileStore::free(uint64_t location, uint32_t size) {
  const auto gen = static_cast<int>(location >> kGenerationShift);
  const uint64_t unit = location & kUnitMask;
  SpinLockGuard guard(lock_);
  Generation& g = gens_[gen];
  g.blobs--;
  g.blob_bytes -= size;
  // A sealed generation's units stay taken: a forked process may still read them.
  if (g.state == GenState::kCurrent) {
    bitmap_[unit / kGroupUnits] &= ~run_mask(static_cast<uint32_t>(unit % kGroupUnits), units_of(size));
    update_room_locked(unit / kGroupUnits);
  }
}

void FileStore::prepare_fork() {
  // Nothing to flush: the writer flushes at the end of each step (flush() on this thread
  // would use numbers of the writer's table).
  {
    SpinLockGuard guard(lock_);
    if (current_ >= 0) gens_[current_].state = GenState::kSealed;
    current_ = -1;
  }
  if (!private_tables_) return;  // the child inherits the one table
  for (Generation& g : gens_) {
    if (g.state != GenState::kSealed || g.fd < 0) continue;
    g.fork_fd = platform::fetch_thread_fd(writer_tid_, g.fd);
    if (g.fork_fd < 0)
      log::warn().str("file tier: cannot pass a file to the forked child (").str(strerrorname_np(errno))
          .str("); its pages in that file will read as errors there").flush();
  }
}

int FileStore::fork_fds(int* out, int max) const {
  int n = 0;
  for (const Generation& g : gens_)
    if (g.fork_fd >= 0 && n < max) out[n++] = g.fork_fd;
  return n;
}

void FileStore::adopt_fork_fds() {
  lock_.reset_after_fork();
  writer_tid_ = 0;
  if (!private_tables_) return;
  for (Generation& g : gens_) {
    if (g.state == GenState::kFree) continue;
    // The parent's own numbers mean nothing here. A closing generation's file was drained
    // in the parent, so it holds no blob of the child's either.
    g.fd = g.reader_fd = g.fork_fd;
    g.shared_fd = false;
    if (g.state == GenState::kClosing) g.state = GenState::kSealed;
  }
}

void FileStore::drop_fork_fds() {
  for (Generation& g : gens_) {
    if (g.fork_fd >= 0) close(g.fork_fd);
    g.fork_fd = -1;
  }
}

void FileStore::close_drained() {
  for (int i = 0; i < kMaxGenerations; ++i) {
    int fd = -1;
    {
      SpinLockGuard guard(lock_);
      Generation& g = gens_[i];
      if (g.state != GenState::kSealed || g.blobs != 0) continue;
      fd = g.fd;
      g.fd = -1;
      // The fault thread closes its own descriptor, if it took one.
      if (g.shared_fd || g.reader_fd < 0) {
        g = Generation{};
      } else {
        g.state = GenState::kClosing;
        closing_.store(true, std::memory_order_release);
      }
    }
    if (fd >= 0) close(fd);
  }
}

void FileStore::close_readers() {
  closing_.store(false, std::memory_order_relaxed);
  for (Generation& g : gens_) {
    int fd = -1;
    {
      SpinLockGuard guard(lock_);
      if (g.state != GenState::kClosing) continue;
      fd = g.reader_fd;
      g = Generation{};
    }
    if (fd >= 0) close(fd);
  }
}

FileStats FileStore::stats() const {
  FileStats s;
  SpinLockGuard guard(lock_);
  for (const Generation& g : gens_) {
    if (g.state == GenState::kFree) continue;
    s.blob_bytes += g.blob_bytes;
    s.blobs += g.blobs;
    s.disk_bytes += g.disk_units * kUnit;
    s.generations++;
  }
  return s;
}

}  // namespace tmc::pool
