#include "baton/store/rocksdb_state_store.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "info_log.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

namespace baton::store {
namespace {

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat(what, ": ", s.ToString());
  if (s.IsIOError() || s.IsNoSpace() || s.IsBusy() || s.IsTryAgain()) {
    return absl::UnavailableError(message);
  }
  if (s.IsCorruption()) return absl::DataLossError(message);
  return absl::InternalError(message);
}

// The size of the files compactions write (see Open).
constexpr uint64_t kCompactionFileBytes = 16 << 20;

std::string AccountRecordKey(absl::string_view key) { return absl::StrCat("a", key); }

// AccountPrefix maps a stored record's key to its account: 'a', the partition (4 bytes), and
// everything up to and including the first NUL after it — the AccountKey that every record of
// one account starts with. Bloom filters over these prefixes let an account's range scan skip
// every file and memtable that holds none of its records, so reading an account costs one seek
// where it is, and almost nothing for a new one. Of the global range only the engagement
// waiting for a domain ("w" + domain + NUL) is scanned this way; the rest of the directory
// (read by point lookups) and the timer index (scanned in order) stay out of the prefix
// filters, which would otherwise hold an entry per contact and timer.
class AccountPrefix final : public rocksdb::SliceTransform {
 public:
  static constexpr size_t kStart = 5;  // 'a' and the partition
  const char* Name() const override { return "baton.AccountPrefix.v2"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    const void* nul = std::memchr(key.data() + kStart, '\0', key.size() - kStart);
    return rocksdb::Slice(key.data(), static_cast<const char*>(nul) - key.data() + 1);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    if (key.size() <= kStart || key[0] != 'a' || key[kStart] == '\x01') return false;  // timers
    if (key.starts_with(rocksdb::Slice("a\xff\xff\xff\xff", kStart)) && key[kStart] != 'w') {
      return false;
    }
    return std::memchr(key.data() + kStart, '\0', key.size() - kStart) != nullptr;
  }
  // IsWhole: every key starting with `prefix` has exactly `prefix` as its account prefix.
  bool IsWhole(const rocksdb::Slice& prefix) const {
    return InDomain(prefix) && Transform(prefix).size() == prefix.size();
  }
};

// Successor is the smallest key greater than every key that starts with `prefix` (empty when
// there is none: a prefix of 0xFF bytes only).
std::string Successor(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xFF) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

std::string OffsetRecordKey(const pipeline::TopicPartition& tp) {
  std::string key = absl::StrCat("o", tp.topic);
  key.push_back('\0');
  const auto p = static_cast<uint32_t>(tp.partition);
  for (int shift = 24; shift >= 0; shift -= 8) key.push_back(static_cast<char>(p >> shift));
  return key;
}

std::string EncodeOffset(int64_t offset) {
  std::string out(8, '\0');
  const auto v = static_cast<uint64_t>(offset);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (56 - 8 * i));
  return out;
}

int64_t DecodeOffset(absl::string_view bytes) {
  uint64_t v = 0;
  for (unsigned char c : bytes) v = (v << 8) | c;
  return static_cast<int64_t>(v);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RocksDbStateStore>> RocksDbStateStore::Open(
    const RocksDbOptions& options) {
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.write_buffer_size = options.write_buffer_bytes / 2;
  db_options.max_write_buffer_number = 2;
  db_options.max_background_jobs = 2;
  // A compaction holds its output file's filter keys in memory until the file is finished:
  // with RocksDB's default of 64 MiB files that was about 85 MiB at the peak of a 1M-account
  // load. Smaller files bound it; a point read or an account's seek still opens one file per
  // level.
  db_options.target_file_size_base = kCompactionFileBytes;
  // Level sizes from the last level up. With RocksDB's fixed sizes (level 1 at 256 MiB) a
  // 1M-account store, about 550 MiB, sat in an overfull level 1 that every compaction of level 0
  // rewrote almost whole; now level 0 compacts into a level a tenth the size of the one below.
  // A data directory from before moves to this shape through compactions.
  db_options.level_compaction_dynamic_level_bytes = true;
  // Deleting obsolete files and freeing flushed memtables is left to RocksDB's background
  // threads: otherwise the last reader of an old version does it inline — the processing
  // thread, after an account read — and a reopened store deletes the files a killed compaction
  // left before Open returns.
  db_options.avoid_unnecessary_blocking_io = true;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Index and filter blocks stay in the table readers, outside the block cache: in the cache
  // they were evicted by data blocks and re-read (and re-decompressed) on almost every point
  // read of a new account. They are small: about 1.3 bytes per key for the filter.
  table.cache_index_and_filter_blocks = false;
  // Prefix filters for account scans (AccountPrefix), besides the whole-key ones for point reads.
  db_options.prefix_extractor = std::make_shared<AccountPrefix>();
  db_options.memtable_prefix_bloom_size_ratio = 0.05;
  db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  // RocksDB's information log, in a file a full disk cannot turn into an abort (info_log.h).
  std::error_code ignored;  // DB::Open reports a directory that cannot be made
  std::filesystem::create_directories(options.path, ignored);
  db_options.info_log = OpenInfoLog(options.path + "/LOG");

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.path, &raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("opening state store at ", options.path));
  return std::unique_ptr<RocksDbStateStore>(
      new RocksDbStateStore(std::unique_ptr<rocksdb::DB>(raw), options));
}

RocksDbStateStore::RocksDbStateStore(std::unique_ptr<rocksdb::DB> db, const RocksDbOptions& options)
    : db_(std::move(db)),
      path_(options.path),
      sync_writes_(options.sync_writes),
      min_free_bytes_(options.min_free_bytes) {}

absl::Status RocksDbStateStore::CheckFreeSpace() const {
  if (min_free_bytes_ == 0) return absl::OkStatus();
  struct statvfs fs {};
  if (statvfs(path_.c_str(), &fs) != 0) return absl::OkStatus();  // let RocksDB report it
  const uint64_t free = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (free >= min_free_bytes_) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("disk nearly full: ", free >> 20, " MiB free for ",
                                             path_, ", at least ", min_free_bytes_ >> 20,
                                             " MiB needed; not writing state"));
}

RocksDbStateStore::~RocksDbStateStore() {
  if (db_) (void)db_->Close();
}

absl::StatusOr<std::optional<std::string>> RocksDbStateStore::Get(absl::string_view key) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), AccountRecordKey(key), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromRocks(s, "reading state");
  return value;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> RocksDbStateStore::Scan(
    absl::string_view key_prefix) {
  const std::string prefix = AccountRecordKey(key_prefix);
  const std::string end = Successor(prefix);
  const rocksdb::Slice upper(end);
  std::vector<std::pair<std::string, std::string>> records;
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = end.empty() ? nullptr : &upper;
  // A whole account prefix may use the prefix filters; any other range needs every file.
  if (AccountPrefix().IsWhole(prefix)) {
    options.prefix_same_as_start = true;
  } else {
    options.total_order_seek = true;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const rocksdb::Slice key = it->key();
    records.emplace_back(std::string(key.data() + prefix.size(), key.size() - prefix.size()),
                         it->value().ToString());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading account state");
  return records;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> RocksDbStateStore::ScanRange(
    absl::string_view from, absl::string_view to, size_t limit) {
  const std::string begin = AccountRecordKey(from);
  const std::string end = AccountRecordKey(to);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper;
  options.total_order_seek = true;
  std::vector<std::pair<std::string, std::string>> records;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
  for (it->Seek(begin); it->Valid() && records.size() < limit; it->Next()) {
    const rocksdb::Slice key = it->key();
    records.emplace_back(std::string(key.data() + 1, key.size() - 1), it->value().ToString());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading the timer index");
  return records;
}

absl::StatusOr<std::optional<int64_t>> RocksDbStateStore::LoadOffset(
    const pipeline::TopicPartition& tp) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), OffsetRecordKey(tp), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromRocks(s, "reading input offset");
  if (value.size() != 8) {
    return absl::DataLossError(absl::StrCat("stored offset of ", tp.topic, "/", tp.partition,
                                            " has ", value.size(), " bytes, not 8"));
  }
  return DecodeOffset(value);
}

absl::Status RocksDbStateStore::Commit(const pipeline::StateBatch& batch) {
  if (absl::Status s = CheckFreeSpace(); !s.ok()) return s;
  if (needs_resume_) {
    if (absl::Status s = FromRocks(db_->Resume(), "resuming state store"); !s.ok()) return s;
    needs_resume_ = false;
  }
  // The records go into the batch in key order: the memtable's skip list then inserts each one
  // next to the one before instead of searching for its place from the top (20,000 records of
  // one commit unit wrote in about four fifths of the time, sort included). The sort is stable,
  // so a key written twice keeps its last value.
  std::vector<const std::pair<std::string, std::optional<std::string>>*> sorted;
  sorted.reserve(batch.writes.size());
  for (const auto& write : batch.writes) sorted.push_back(&write);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto* a, const auto* b) { return a->first < b->first; });
  rocksdb::WriteBatch write;
  for (const auto* record : sorted) {
    const auto& [key, value] = *record;
    const rocksdb::Slice key_parts[] = {rocksdb::Slice("a", 1), rocksdb::Slice(key)};
    const rocksdb::SliceParts full_key(key_parts, 2);
    if (value.has_value()) {
      const rocksdb::Slice value_slice(*value);
      write.Put(full_key, rocksdb::SliceParts(&value_slice, 1));
    } else {
      write.Delete(full_key);
    }
  }
  for (const auto& [tp, offset] : batch.offsets) {
    write.Put(OffsetRecordKey(tp), EncodeOffset(offset));
  }
  rocksdb::WriteOptions options;
  options.sync = sync_writes_;
  rocksdb::Status s = db_->Write(options, &write);
  if (!s.ok()) {
    needs_resume_ = true;
    return FromRocks(s, "committing state");
  }
  return absl::OkStatus();
}

}  // namespace baton::store
