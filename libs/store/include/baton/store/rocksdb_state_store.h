// RocksDbStateStore: Baton's local state in RocksDB, implementing pipeline::StateStore.
//
// Layout (one column family):
//   'a' + AccountKey(partition, account id) + record suffix -> an account record (the head, the
//                                                               contacts, or one day of
//                                                               engagement)
//   'a' + 0xFFFFFFFF + directory key                        -> the global account directory
//                                                               (contacts, emails, domains) and
//                                                               engagement waiting for a match
//   'o' + topic + '\0' + partition (4 bytes, big-endian) -> next input offset (8 bytes, BE)
// Account keys start with their partition so a partition's state is one key range.
//
// Each Commit is one WriteBatch: the account records and the input offsets they reflect become
// durable together or not at all. Writes go through the write-ahead log; with sync_writes off
// (the default) a process crash (kill -9) loses nothing that Commit returned, an OS crash may
// lose the last commits — safe, because the offsets roll back with the state.
//
// Memory is bounded by configuration: one block cache and the write-buffer budget.
//
// Thread-safety: the processing thread calls Load*/Commit; RocksDB's own threads flush and
// compact in the background.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "baton/pipeline/ports.h"

namespace rocksdb {
class DB;
}

namespace baton::store {

struct RocksDbOptions {
  std::string path;
  size_t block_cache_bytes = 8 << 20;
  size_t write_buffer_bytes = 32 << 20;
  bool sync_writes = false;
  // Commit refuses to write (kUnavailable) while the data directory's file system has less
  // free space than this: RocksDB is never driven into a full disk, where its write-ahead log
  // cannot be written again without a restart. 0 turns the check off.
  uint64_t min_free_bytes = 64 << 20;
};

class RocksDbStateStore final : public pipeline::StateStore {
 public:
  // Open opens (creating if needed) the store at options.path.
  static absl::StatusOr<std::unique_ptr<RocksDbStateStore>> Open(const RocksDbOptions& options);
  ~RocksDbStateStore() override;

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) override;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(
      absl::string_view prefix) override;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanRange(absl::string_view from,
                                                                             absl::string_view to,
                                                                             size_t limit) override;
  absl::StatusOr<std::optional<int64_t>> LoadOffset(const pipeline::TopicPartition& tp) override;
  // Commit writes the batch atomically. After a failed write (for example a full disk) RocksDB
  // stops accepting writes; the next Commit first asks it to resume.
  absl::Status Commit(const pipeline::StateBatch& batch) override;

 private:
  RocksDbStateStore(std::unique_ptr<rocksdb::DB> db, const RocksDbOptions& options);
  absl::Status CheckFreeSpace() const;

  std::unique_ptr<rocksdb::DB> db_;
  std::string path_;
  bool sync_writes_;
  uint64_t min_free_bytes_;
  bool needs_resume_ = false;
};

}  // namespace baton::store
