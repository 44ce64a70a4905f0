// The file tier's storage (pool/file_store.h) and the pool's blobs in it (Pool::fetch,
// write_to_file, commit_to_file, release): contents come back, units are reused while a
// generation is written and never once it is sealed for a fork, the size limit holds, and
// a failing directory is refused.
#include "pool/file_store.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "pool/pool.h"

namespace tmc::pool {
namespace {

std::string blob_of(uint64_t seed, uint32_t size) {
  std::string s(size, '\0');
  std::mt19937_64 rng(seed);
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

class FileStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/var/tmp/tmc-file-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { rmdir(dir_.c_str()); }  // empty: the files have no names
  std::string dir_;
};

TEST_F(FileStoreTest, BlobsComeBackAndLeaveNoName) {
  FileStore f;
  ASSERT_TRUE(f.init(dir_.c_str(), 64 << 20));
  std::vector<uint64_t> locs;
  for (uint32_t i = 0; i < 500; ++i) {
    const uint32_t size = 1 + (i * 37) % 4096;
    const std::string b = blob_of(i, size);
    locs.push_back(f.write(b.data(), size));
    ASSERT_NE(locs.back(), FileStore::kNoLocation) << strerror(errno);
  }
  f.flush();
  char buf[4096];
  for (uint32_t i = 0; i < 500; ++i) {
    const uint32_t size = 1 + (i * 37) % 4096;
    ASSERT_TRUE(f.read(locs[i], size, buf)) << strerror(errno);
    ASSERT_EQ(memcmp(buf, blob_of(i, size).data(), size), 0) << "blob " << i;
  }
  EXPECT_EQ(f.stats().blobs, 500u);
  EXPECT_EQ(f.stats().generations, 1u);
  EXPECT_EQ(f.writes(), 500u);
  EXPECT_EQ(f.reads(), 500u);
  // The directory shows no file while the blobs are in one (O_TMPFILE, or unlinked).
  DIR* d = opendir(dir_.c_str());
  ASSERT_NE(d, nullptr);
  int names = 0;
  while (dirent* e = readdir(d)) names += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  EXPECT_EQ(names, 0);
}

TEST_F(FileStoreTest, FreedUnitsAreReusedWhileWritten) {
  FileStore f;
  ASSERT_TRUE(f.init(dir_.c_str(), 64 << 20));
  const std::string b = blob_of(1, 1000);
  std::vector<uint64_t> locs;
  for (int i = 0; i < 1000; ++i) locs.push_back(f.write(b.data(), 1000));
  const uint64_t disk = f.stats().disk_bytes;
  for (int round = 0; round < 5; ++round) {
    for (uint64_t l : locs) f.free(l, 1000);
    for (auto& l : locs) l = f.write(b.data(), 1000);
  }
  EXPECT_EQ(f.stats().disk_bytes, disk) << "freed units were not reused";
  EXPECT_EQ(f.stats().blobs, 1000u);
  EXPECT_EQ(f.stats().blob_bytes, 1000u * 1000u);
}

TEST_F(FileStoreTest, HolesAreFilledByBlobsThatFitThem) {
  FileStore f;
  ASSERT_TRUE(f.init(dir_.c_str(), 64 << 20));
  // Two 3000-byte blobs (24 units each) per 64-unit group leave a 16-unit hole in each.
  const std::string big = blob_of(1, 3000);
  for (int i = 0; i < 200; ++i) ASSERT_NE(f.write(big.data(), 3000), FileStore::kNoLocation);
  const uint64_t disk = f.stats().disk_bytes;
  EXPECT_EQ(disk, 100u * 8192u);
  // 2000-byte blobs (16 units) fill the holes: the file does not grow.
  const std::string mid = blob_of(2, 2000);
  std::vector<uint64_t> in_holes;
  for (int i = 0; i < 100; ++i) in_holes.push_back(f.write(mid.data(), 2000));
  EXPECT_EQ(f.stats().disk_bytes, disk) << "holes left unused";
  // A 4096-byte blob (32 units) fits no hole: it takes a fresh group.
  const std::string page = blob_of(3, 4096);
  ASSERT_NE(f.write(page.data(), 4096), FileStore::kNoLocation);
  EXPECT_EQ(f.stats().disk_bytes, disk + 8192);
  // Every blob still reads back.
  char buf[2000];
  for (uint64_t l : in_holes) {
    ASSERT_TRUE(f.read(l, 2000, buf));
    ASSERT_EQ(memcmp(buf, mid.data(), 2000), 0);
  }
}

TEST_F(FileStoreTest, SealedGenerationIsNeverWrittenAgain) {
  FileStore f;
  ASSERT_TRUE(f.init(dir_.c_str(), 64 << 20));
  const std::string old_blob = blob_of(7, 3000);
  std::vector<uint64_t> old_locs;
  for (int i = 0; i < 100; ++i) old_locs.push_back(f.write(old_blob.data(), 3000));
  f.prepare_fork();  // shared descriptor table here: nothing to pass on
  // The parent frees its old blobs and writes new ones: none may land on the old units,
  // which a forked child still reads.
  for (int i = 0; i < 50; ++i) f.free(old_locs[i], 3000);
  const std::string new_blob = blob_of(8, 3000);
  for (int i = 0; i < 100; ++i) {
    const uint64_t l = f.write(new_blob.data(), 3000);
    ASSERT_NE(l, FileStore::kNoLocation);
    for (uint64_t o : old_locs) ASSERT_NE(l, o) << "a sealed unit was written again";
  }
  EXPECT_EQ(f.stats().generations, 2u);
  char buf[3000];
  for (uint64_t o : old_locs) {
    ASSERT_TRUE(f.read(o, 3000, buf));
    ASSERT_EQ(memcmp(buf, old_blob.data(), 3000), 0);
  }
  // The sealed generation closes once the last of this process's blobs in it goes.
  for (int i = 50; i < 100; ++i) f.free(old_locs[i], 3000);
  f.close_drained();
  EXPECT_EQ(f.stats().generations, 1u);
}

TEST_F(FileStoreTest, LimitHolds) {
  FileStore f;
  ASSERT_TRUE(f.init(dir_.c_str(), 1 << 20));
  const std::string b = blob_of(3, 2000);
  int stored = 0;
  while (f.write(b.data(), 2000) != FileStore::kNoLocation) ++stored;
  EXPECT_EQ(errno, ENOSPC);
  EXPECT_GT(f.full(), 0u);
  EXPECT_LE(f.stats().disk_bytes, uint64_t{1} << 20);
  EXPECT_GT(stored, 400);  // 2000-byte blobs: 4 per 8 KiB group, 128 groups
}

TEST(FileStore, RefusesADirectoryThatCannotTakeAFile) {
  FileStore f;
  EXPECT_FALSE(f.init("/nonexistent/tmc", 1 << 20));
  EXPECT_EQ(errno, ENOENT);
  EXPECT_FALSE(f.enabled());
}

TEST_F(FileStoreTest, PoolBlobsMoveToTheFileAndComeBack) {
  FileStore f;
  ASSERT_TRUE(f.init(dir_.c_str(), 64 << 20));
  Pool pool;
  pool.attach_files(&f);
  std::vector<Handle> hs;
  for (uint32_t i = 0; i < 300; ++i) {
    const std::string b = blob_of(100 + i, 200 + i * 10);
    hs.push_back(pool.store(b.data(), static_cast<uint32_t>(b.size())));
    ASSERT_NE(hs.back(), kNoHandle);
  }
  ASSERT_TRUE(pool.retain(hs[0]));  // a shared blob moves too, once
  const uint64_t in_memory = pool.compr_bytes();
  for (uint32_t i = 0; i < 300; i += 2) {
    uint32_t size = 0;
    const uint64_t loc = pool.write_to_file(hs[i], &size);
    ASSERT_NE(loc, FileStore::kNoLocation);
    ASSERT_TRUE(pool.commit_to_file(hs[i], loc, size));
  }
  f.flush();
  EXPECT_EQ(pool.filed_blobs(), 150u);
  EXPECT_LT(pool.compr_bytes(), in_memory);
  EXPECT_TRUE(pool.in_file(hs[0]));
  EXPECT_FALSE(pool.in_file(hs[1]));
  EXPECT_TRUE(pool.is_valid());
  char buf[kMaxBlob];
  for (uint32_t i = 0; i < 300; ++i) {
    const std::string want = blob_of(100 + i, 200 + i * 10);
    uint32_t size = 0;
    const void* p = pool.fetch(hs[i], buf, &size);
    ASSERT_NE(p, nullptr) << i;
    ASSERT_EQ(size, want.size());
    ASSERT_EQ(memcmp(p, want.data(), size), 0) << i;
    EXPECT_EQ(pool.data(hs[i], &size) == nullptr, i % 2 == 0) << "data() is for blobs in memory only";
  }
  // A blob released between the write and the commit loses its copy, not its slot twice.
  uint32_t size = 0;
  const uint64_t loc = pool.write_to_file(hs[1], &size);
  ASSERT_NE(loc, FileStore::kNoLocation);
  EXPECT_TRUE(pool.release(hs[1]));
  EXPECT_FALSE(pool.commit_to_file(hs[1], loc, size));
  // Releasing filed blobs frees their units; the shared one only at its last reference.
  EXPECT_FALSE(pool.release(hs[0]));
  EXPECT_TRUE(pool.in_file(hs[0]));
  for (uint32_t i = 0; i < 300; i += 2) EXPECT_TRUE(pool.release(hs[i]));
  EXPECT_EQ(pool.filed_blobs(), 0u);
  EXPECT_EQ(f.stats().blobs, 0u);
  EXPECT_TRUE(pool.is_valid());
}

}  // namespace
}  // namespace tmc::pool
