// The file tier's storage: blobs that stayed compressed for TMC_FILE_AGE leave memory for a
// private file in TMC_FILE_DIR, as zram's writeback moves idle pages to a backing device.
// The pool keeps their handles (pool.h: an entry points at a file location instead of a
// slot), so page words, dedup and forks see no difference; only reading a blob does.
//
// Layout: a file is cut into 128-byte units; a blob takes ceil(size / 128) consecutive
// units inside one group of 64 (8 KiB), found first-fit from a rotating cursor in a bitmap
// of the units in use (blobs are at most a page, so a group always has room for one once
// it is empty). A location is generation << 40 | first unit.
//
// Generations, for fork. A forked child shares the parent's open file (the descriptor is
// inherited; a file is not copied as private memory is), so units the parent freed and
// wrote again would change the child's blobs under it, and the other way round. At every
// fork the file being written is therefore sealed, in the parent and (by the copy) the
// child alike: neither writes its units again, and each process writes to a generation of
// its own, opened on its next write. A sealed generation's descriptor is closed once the
// last of the process's own blobs in it is gone; the kernel frees the file when every
// process holding it has closed it (an O_TMPFILE file has no name, and descriptors are
// O_CLOEXEC, so nothing outlives the processes, not even after a crash). The price is
// disk space: a sealed generation keeps its freed units until it closes.
//
// Memory: what a write puts in the page cache is written back and dropped at once
// (sync_file_range, POSIX_FADV_DONTNEED on each batch: flush()); a read leaves its page
// in the page cache until the kernel reclaims it.
//
// Descriptors. libtmc's threads may each have a descriptor table of their own
// (platform/fd_table.h): a file is opened in the writer's (the reclaimer's) table, and the
// fault thread, the other reader, takes its own descriptor for it on its first read
// (pidfd_getfd from the writer). A fork copies only the forking thread's table, so
// before a fork every open file gets a descriptor there too (prepare_fork): the child's
// threads keep those in their tables (fork_fds) and use them for both, and the forking
// thread closes them afterwards, in the parent and the child (drop_fork_fds).
//
// Threads: write(), flush() and close_drained() on the writer's thread (they make system
// calls); read() on the writer's thread or the fault thread; close_readers() on the fault
// thread; free() anywhere and without a system call, since Pool::release() runs on
// application threads inside jemalloc's purge hook. One spin lock guards the bitmap and
// the generations.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/spin_lock.h"

namespace tmc::pool {

struct FileStats {
  uint64_t blob_bytes = 0;   // bytes of the blobs in the files
  uint64_t blobs = 0;        // blobs in the files
  uint64_t disk_bytes = 0;   // what the open files take (holes of freed blobs included)
  uint64_t generations = 0;  // files open
};

class FileStore {
 public:
  static constexpr uint32_t kUnit = 128;
  static constexpr uint32_t kGroupUnits = 64;
  static constexpr int kMaxGenerations = 64;
  static constexpr uint64_t kNoLocation = ~uint64_t{0};

  // Where files are made and how much disk they may take at most (holes included).
  // Reserves the bitmap (address space only). Opens a first file to tell at once whether
  // the directory takes one; false (errno set, nothing kept) if not.
  bool init(const char* dir, uint64_t max_bytes);
  bool enabled() const { return max_units_ != 0; }

  // Writes a blob of `size` bytes (1..4096) and returns its location, or kNoLocation
  // when the limit is reached, no generation can be opened, or the write fails (errno
  // says which: ENOSPC for the limit too). The caller keeps the blob in memory then.
  uint64_t write(const void* data, uint32_t size);
  // Writes back and drops from the page cache what write() put there since the last call.
  void flush();
  // Reads a blob back into buf, on the writer's thread or the fault thread; false (errno
  // set) if the file cannot give it.
  bool read(uint64_t location, uint32_t size, void* buf);
  // Gives a blob's units back (no system call).
  void free(uint64_t location, uint32_t size);

  // Whether libtmc's threads have descriptor tables of their own (set before any write).
  void set_private_tables(bool on) { private_tables_ = on; }
  // On the writer's thread when it starts (in a forked child too): its table holds fd.
  void set_writer_thread();

  // Before a fork, on the forking thread, the writer being between steps: the generation
  // being written is sealed, and every open file gets a descriptor in this thread's table.
  void prepare_fork();
  // Those descriptors, for a forked child's threads to keep: returns how many (at most max).
  int fork_fds(int* out, int max) const;
  // In the child (single-threaded), on the forking thread before its threads start: the
  // files are read through the descriptors prepare_fork made (each libtmc thread keeps a
  // copy); a lock held by a thread that is gone is let go.
  void adopt_fork_fds();
  // On the forking thread once its threads no longer need them (parent: after the fork;
  // child: once its threads have their tables): closes prepare_fork's descriptors here.
  void drop_fork_fds();

  // Writer: closes sealed generations holding no blob of this process (the fault
  // thread's descriptor for one goes at its next close_readers()).
  void close_drained();
  // Fault thread: closes its descriptors of files the writer has closed.
  void close_readers();

  FileStats stats() const;
  // Blobs refused for TMC_FILE_MAX, and writes and reads that failed.
  uint64_t full() const { return full_.load(std::memory_order_relaxed); }
  uint64_t write_errors() const { return write_errors_.load(std::memory_order_relaxed); }
  uint64_t read_errors() const { return read_errors_.load(std::memory_order_relaxed); }
  uint64_t writes() const { return writes_.load(std::memory_order_relaxed); }
  uint64_t reads() const { return reads_.load(std::memory_order_relaxed); }


 private:
  // kClosing: the writer closed its descriptor, the fault thread has yet to close its own.
  enum class GenState : uint8_t { kFree, kCurrent, kSealed, kClosing };
  struct Generation {
    int fd = -1;         // in the writer's table
    int reader_fd = -1;  // in the fault thread's table (-1: not taken yet)
    int fork_fd = -1;    // in the forking thread's table, around a fork
    bool shared_fd = false;  // reader_fd is fd, in a table both use
    GenState state = GenState::kFree;
    uint64_t blobs = 0;
    uint64_t blob_bytes = 0;
    uint64_t disk_units = 0;  // units up to the end of the last group written
  };

  static uint32_t units_of(uint32_t size) { return (size + kUnit - 1) / kUnit; }
  int open_file() const;
  int reader_fd(int gen);  // the calling thread's descriptor for a generation's file
  bool open_generation();          // makes a fresh current generation (lock not held)
  uint64_t allocate_locked(uint32_t units);  // in the current generation, or kNoLocation
  void update_room_locked(uint64_t group);
  uint64_t disk_units_locked() const;

  char dir_[256] = {};
  uint64_t max_units_ = 0;
  static constexpr int kRoomClasses = 3;
  static constexpr uint32_t kRoomUnits[kRoomClasses] = {8, 16, 32};
  uint64_t* bitmap_ = nullptr;  // max_units_ bits, reserved once, touched as groups are used
  uint64_t* room_[kRoomClasses] = {};  // one bit per group: a free run of kRoomUnits[c]
  uint64_t room_words_ = 0;
  uint64_t groups_used_ = 0;    // groups of the current generation touched so far
  uint64_t cursor_ = 0;         // where the next search starts (a group)

  bool private_tables_ = false;
  int writer_tid_ = 0;  // the thread whose table holds Generation::fd (0: any, shared)

  mutable SpinLock lock_;
  Generation gens_[kMaxGenerations];
  int current_ = -1;
  // The range written since the last flush(), in bytes of the current generation's file.
  uint64_t dirty_from_ = UINT64_MAX;
  uint64_t dirty_to_ = 0;
  int dirty_fd_ = -1;

  uint64_t fail_after_ = UINT64_MAX;  // TMC_TEST_FILE_FAIL_AFTER
  std::atomic<bool> closing_{false};  // a generation waits for close_readers()
  std::atomic<uint64_t> writes_{0}, reads_{0};
  std::atomic<uint64_t> full_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> read_errors_{0};
};

}  // namespace tmc::pool
