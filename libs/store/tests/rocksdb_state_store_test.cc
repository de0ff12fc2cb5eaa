#include "baton/store/rocksdb_state_store.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scratch_dir_test.h"

namespace baton::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::Pair;
using namespace std::string_literals;

// dir_ does not exist when a test starts: the store makes it.
class RocksDbStateStoreTest : public ScratchDirTest {
 protected:
  std::unique_ptr<RocksDbStateStore> OpenStore() {
    auto store = RocksDbStateStore::Open({.path = dir_.string()});
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // OptionsFileOfANewStore opens a store and returns the options RocksDB recorded for it.
  std::string OptionsFileOfANewStore() {
    OpenStore().reset();
    std::string options;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      if (entry.path().filename().string().starts_with("OPTIONS-")) {
        std::ifstream in(entry.path());
        options.assign(std::istreambuf_iterator<char>(in), {});
      }
    }
    return options;
  }
};

TEST_F(RocksDbStateStoreTest, StateAndOffsetsSurviveReopening) {
  {
    auto store = OpenStore();
    pipeline::StateBatch batch;
    batch.writes = {{"\0\0\0\1acme\0h"s, "head-1"},
                    {"\0\0\0\1acme\0d1"s, "day-1"},
                    {"\0\0\0\1acme2\0h"s, "other-account"}};
    batch.offsets = {{{"abm.crm.v1", 1}, 42}, {{"abm.crm.v1", 300}, 7}};
    ASSERT_TRUE(store->Commit(batch).ok());
  }
  auto store = OpenStore();
  EXPECT_THAT(store->Scan("\0\0\0\1acme\0"s).value(),
              ElementsAre(Pair("d1", "day-1"), Pair("h", "head-1")));
  EXPECT_THAT(store->Scan("\0\0\0\2acme\0"s).value(), IsEmpty());
  EXPECT_THAT(store->LoadOffset({"abm.crm.v1", 1}).value(), Optional(42));
  EXPECT_THAT(store->LoadOffset({"abm.crm.v1", 300}).value(), Optional(7));
  EXPECT_EQ(store->LoadOffset({"abm.crm.v1", 2}).value(), std::nullopt);
  EXPECT_EQ(store->LoadOffset({"abm.crm.v", 1}).value(), std::nullopt);
}

TEST_F(RocksDbStateStoreTest, ALaterCommitOverwritesAndDeletes) {
  auto store = OpenStore();
  ASSERT_TRUE(
      store->Commit({.writes = {{"k\0h"s, "v1"}, {"k\0d1"s, "old"}}, .offsets = {{{"t", 0}, 1}}})
          .ok());
  ASSERT_TRUE(store
                  ->Commit({.writes = {{"k\0h"s, "v2"}, {"k\0d1"s, std::nullopt}},
                            .offsets = {{{"t", 0}, 9}}})
                  .ok());
  EXPECT_THAT(store->Scan("k\0"s).value(), ElementsAre(Pair("h", "v2")));
  EXPECT_THAT(store->LoadOffset({"t", 0}).value(), Optional(9));
}

// A commit writes its records in key order, whatever order they come in; a key written twice in
// one commit keeps the later write.
TEST_F(RocksDbStateStoreTest, WithinACommitTheLaterWriteOfAKeyWins) {
  auto store = OpenStore();
  ASSERT_TRUE(store
                  ->Commit({.writes = {{"k\0h"s, "first"},
                                       {"k\0d2"s, "gone"},
                                       {"k\0c"s, "contacts"},
                                       {"k\0d2"s, std::nullopt},
                                       {"k\0h"s, "second"}},
                            .offsets = {}})
                  .ok());
  EXPECT_THAT(store->Scan("k\0"s).value(), ElementsAre(Pair("c", "contacts"), Pair("h", "second")));
}

TEST_F(RocksDbStateStoreTest, AnAccountScanSeesOnlyThatAccountAndARangeScanSeesEveryAccount) {
  // Account scans use prefix filters; reopening moves the records from the memtable to files,
  // so both the memtable's and the files' filters are exercised.
  pipeline::StateBatch batch;
  for (int i = 0; i < 200; ++i) {
    const std::string account = "\0\0\0\1acct-"s + std::to_string(i) + '\0';
    batch.writes.emplace_back(account + "h", "head-" + std::to_string(i));
    batch.writes.emplace_back(account + "d1", "day-" + std::to_string(i));
  }
  // Directory-style keys: "w" + a domain + NUL + a hash.
  batch.writes.emplace_back("\xff\xff\xff\xffwcom.acme\0h1"s, "parked-1");
  batch.writes.emplace_back("\xff\xff\xff\xffwcom.acme.eu\0h2"s, "parked-2");
  for (bool reopen : {false, true}) {
    SCOPED_TRACE(reopen ? "from files" : "from the memtable");
    auto store = OpenStore();
    if (!reopen) {
      ASSERT_TRUE(store->Commit(batch).ok());
    }
    EXPECT_THAT(store->Scan("\0\0\0\1acct-1\0"s).value(),
                ElementsAre(Pair("d1", "day-1"), Pair("h", "head-1")));
    EXPECT_THAT(store->Scan("\0\0\0\1acct-199\0"s).value(),
                ElementsAre(Pair("d1", "day-199"), Pair("h", "head-199")));
    EXPECT_THAT(store->Scan("\0\0\0\1acct-200\0"s).value(), IsEmpty());
    EXPECT_THAT(store->Scan("\0\0\0\2acct-1\0"s).value(), IsEmpty());
    // Not a whole account prefix: every account whose id starts with "acct-19".
    EXPECT_EQ(store->Scan("\0\0\0\1acct-19"s).value().size(), 2u * 11);
    // A domain and its subdomains, then the domain alone.
    EXPECT_THAT(store->Scan("\xff\xff\xff\xffwcom.acme"s).value(),
                ElementsAre(Pair("\0h1"s, "parked-1"), Pair(".eu\0h2"s, "parked-2")));
    EXPECT_THAT(store->Scan("\xff\xff\xff\xffwcom.acme\0"s).value(),
                ElementsAre(Pair("h1", "parked-1")));
  }
}

TEST_F(RocksDbStateStoreTest, ScanRangeReturnsFullKeysFromInclusiveToExclusiveUpToTheLimit) {
  auto store = OpenStore();
  ASSERT_TRUE(
      store
          ->Commit({.writes = {{"t1", ""}, {"t2", "b"}, {"t3", "c"}, {"t4", "d"}, {"u1", "x"}},
                    .offsets = {}})
          .ok());
  EXPECT_THAT(store->ScanRange("t2", "t4", 10).value(),
              ElementsAre(Pair("t2", "b"), Pair("t3", "c")));
  EXPECT_THAT(store->ScanRange("t", "u", 2).value(), ElementsAre(Pair("t1", ""), Pair("t2", "b")));
  EXPECT_THAT(store->ScanRange("t5", "u", 10).value(), ::testing::IsEmpty());
}

TEST_F(RocksDbStateStoreTest, ALowDiskRefusesToWriteAndNamesTheDirectory) {
  pipeline::StateBatch batch;
  batch.writes = {{"\0\0\0\1acme\0h"s, "head-1"}};
  {
    // No file system has 2^62 bytes free: the check always trips.
    auto store = RocksDbStateStore::Open({.path = dir_.string(), .min_free_bytes = 1ULL << 62});
    ASSERT_TRUE(store.ok()) << store.status();
    absl::Status s = (*store)->Commit(batch);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("disk nearly full"));
    EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr(dir_.string()));
    EXPECT_EQ(*(*store)->Get("\0\0\0\1acme\0h"s), std::nullopt);
  }
  auto store = RocksDbStateStore::Open({.path = dir_.string(), .min_free_bytes = 0});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE((*store)->Commit(batch).ok());
}

// RocksDB's own logger would keep the last run's log as LOG.old.<microseconds>; Baton's, which a
// full disk cannot turn into an abort, keeps it as LOG.old.
TEST_F(RocksDbStateStoreTest, RocksDbLogsThroughBatonsInfoLog) {
  OpenStore().reset();
  OpenStore().reset();
  EXPECT_TRUE(std::filesystem::exists(dir_ / "LOG.old"));
  std::ifstream log(dir_ / "LOG");
  std::string first_line;
  std::getline(log, first_line);
  EXPECT_THAT(first_line, ::testing::HasSubstr("RocksDB version"));
}

TEST_F(RocksDbStateStoreTest, LevelsAreSizedFromTheLastLevelUp) {
  EXPECT_THAT(OptionsFileOfANewStore(),
              ::testing::HasSubstr("level_compaction_dynamic_level_bytes=true"));
}

// Obsolete files and flushed memtables are freed on RocksDB's threads, not by the last reader of
// an old version (the processing thread) nor inside Open.
TEST_F(RocksDbStateStoreTest, ObsoleteFilesAreDeletedInTheBackground) {
  EXPECT_THAT(OptionsFileOfANewStore(), ::testing::HasSubstr("avoid_unnecessary_blocking_io=true"));
}

TEST_F(RocksDbStateStoreTest, OpeningAnUnusableDirectoryNamesIt) {
  auto store = RocksDbStateStore::Open({.path = "/proc/baton-cannot-be-here"});
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), ::testing::HasSubstr("/proc/baton-cannot-be-here"));
}

}  // namespace
}  // namespace baton::store
