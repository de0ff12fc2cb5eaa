// Processor: Baton's processing loop body, one commit unit at a time (DESIGN.md, invariant 3).
//
// Each input record is decoded, validated, applied to its account's state through the engine,
// and its outputs are staged; a record Baton cannot use is staged for the dead-letter topic
// with its reason. Commit() then commits the unit in two steps:
//   1. the sink publishes the staged outputs together with the unit's state changelog — one
//      record per stored record written, plus one record per input partition holding the next
//      input offset — and, in exactly-once mode, commits them with the input offsets in one
//      Kafka transaction;
//   2. the same writes, the input offsets and the changelog positions reached are written to
//      the local store in one atomic batch (the checkpoint).
//
// The changelog is the source of truth and the local store a checkpoint of it: a crash between
// the two steps leaves the store one unit behind, and RestoreChangelog() catches it up from the
// changelog tail, input offsets included — the unit is neither processed again nor lost, and the
// store is never wiped and rebuilt. The same tail brings a partition's whole state to an
// instance that has none (a new machine, or a partition moved in a rebalance).
//
// When a commit fails (broker or disk), nothing of the unit counts: the caller calls Rewind(),
// which drops the staged unit and every cached state, restores the changelog tail (the unit may
// have committed on the broker before the store failed), and seeks the inputs back to the
// stored offsets (ResumeOffset).
//
// Account state is keyed by (input partition, account id): the engagement and CRM topics must be
// co-partitioned (keyed by account id, same partition count), so an account lives in one
// partition of each (DESIGN.md, invariant 4).
//
// Engagement that names no account is matched (DESIGN.md, invariant 5): by a contact the CRM
// linked to an account, else by its email domain against the accounts' domains. A matched event
// is re-keyed by account id onto the internal matched topic, so it reaches its account's
// partition; an unmatched one goes to the unmatched queue and, unless its domain is free mail,
// waits in the directory until a CRM upsert names its contact or domain. The directory (contact,
// email and domain -> account) is written from CRM upserts in the same commit unit as the state.
//
// A commit may also be pipelined: Seal() takes the staged unit out on the processing thread, Land()
// publishes and stores it (on another thread, if the caller likes) while the processing thread
// goes on with the next unit, and Finish() on the processing thread takes the outcome. While a
// unit lands, its directory writes are read from memory, and no account it wrote is evicted (only
// accounts clean when the last unit finished and unused since), so the next unit never reads the
// store behind it.
//
// Thread-safety: one processing thread owns a Processor; only Land() may run on another thread,
// for one unit at a time, between that unit's Seal() and Finish().
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "baton/codec/codec.h"
#include "baton/core/account.h"
#include "baton/core/engine.h"
#include "baton/core/matching.h"
#include "baton/core/team.h"
#include "baton/pipeline/ports.h"

namespace baton::pipeline {

class FrequencySketch;

struct ProcessorOptions {
  std::string engagement_topic = "abm.engagement.v1";
  std::string crm_topic = "abm.crm.v1";
  // Baton's internal topic of matched engagement, re-keyed by account id; consumed like the
  // engagement topic and co-partitioned with the inputs.
  std::string matched_topic = "abm.engagement-matched.v1";
  codec::DecodeOptions decode;
  codec::PayloadFormat output_format = codec::PayloadFormat::kProtobuf;
  // Account states kept in memory between commits; beyond this, clean ones are evicted after a
  // commit, the least often used lately first, then the least recently used. This, not the
  // number of accounts, bounds Baton's memory.
  size_t max_cached_accounts = 10'000;
  // Clean accounts evicted from the account cache stay in memory serialized, as the store holds
  // them, up to about this many bytes (the oldest evicted dropped first): reading one back then
  // only parses it, without a RocksDB range scan. A serialized account takes about half the
  // memory of a cached one, and parsing it costs a fraction of a range scan. 0 turns this off.
  size_t serialized_cache_bytes = 96 << 20;
  // Timers fire on the wall clock (live) or on each partition's event time, the latest event
  // time processed from it (replay: the same alerts as the live run).
  bool timers_on_event_time = false;
  // Wall-clock timers fire this long after they are due, so that a follow-up logged in the CRM
  // just before a deadline but delivered a little later (CDC lag) still meets the SLA.
  absl::Duration timer_grace = absl::ZeroDuration();
  // At most this many accounts' timers are expired per call of ExpireTimers.
  size_t max_expired_per_call = 10'000;
  // The compacted state changelog topic, co-partitioned with the inputs. Its positions are
  // recorded in the store under this name.
  std::string changelog_topic = "abm.baton-changelog.v1";
};

// ChangelogRecord is one state-changelog record read back: a stored record's key and value
// (nullopt for a tombstone, which deletes it).
struct ChangelogRecord {
  std::string key;
  std::optional<std::string> value;
};

// AccountKey is the key prefix of an account's stored records: the partition (4 bytes,
// big-endian), the account id, and a NUL. Each record adds a suffix: "h" for the head, "p" for
// its CRM part, "c" for the contacts, "d" and the day (8 bytes, big-endian) for a day of
// engagement.
std::string AccountKey(int32_t partition, absl::string_view account_id);
// TimerKey is an account's entry in its partition's timer index: the partition, "\x01t" (no
// account id starts with a control character), the due time (ms, 8 bytes, big-endian) and the
// account id. The index is ordered by due time, so the due entries are one range.
std::string TimerKey(int32_t partition, int64_t due_ms, absl::string_view account_id);

// SealedUnit is a commit unit taken out of the Processor by Seal(): what it publishes and writes.
struct SealedUnit {
  StateBatch batch;
  std::vector<OutboundRecord> outputs;
  Offsets input_offsets;
  CommitStats stats;
  // The unit has outputs to publish, or sent early to wait for; Land also publishes a unit that
  // has only a changelog.
  bool publish = false;
  // Set by Land: how long it took, or the stage that failed ("publish", "store").
  absl::Duration took;
  std::string failed_stage;
};

class Processor {
 public:
  Processor(ProcessorOptions options, const core::Engine& engine, StateStore& store,
            Observer& observer);
  ~Processor();

  // Process stages one record. An error means the store could not be read: the record is not
  // processed, and the caller must Rewind() and retry later.
  absl::Status Process(const InputRecord& record);

  // PendingEvents is the number of records staged since the last commit.
  size_t PendingEvents() const { return stats_.events; }
  // HasPending: the unit has something to commit (records, or what expired timers produced).
  bool HasPending() const {
    return stats_.events > 0 || !outputs_.empty() || sent_early_ || !directory_writes_.empty() ||
           (team_ && team_->dirty());
  }

  // Commit commits the staged unit (see the class comment) and returns the offsets it
  // committed, for the consumer group. On error the unit is not committed: call Rewind().
  // It is Seal, Land and Finish in a row.
  absl::StatusOr<Offsets> Commit(OutputSink& sink);

  // Seal takes the staged unit out, ready to land; processing may go on with the next unit.
  // Call it only when no other sealed unit is still to Finish.
  SealedUnit Seal();
  // Land publishes the unit through the sink and then writes it to the store. It touches
  // nothing else of the Processor, and may run on another thread.
  absl::Status Land(SealedUnit& unit, OutputSink& sink);
  // Finish takes the outcome of Land: on success it reports the unit and returns the offsets it
  // committed; on error (returned as is) nothing of the unit counts: call Rewind().
  absl::StatusOr<Offsets> Finish(SealedUnit& unit, const absl::Status& landed);

  // SendOutputs hands the outputs staged so far to a sink that SendsEarly (see OutputSink), and
  // does nothing for one that does not. Call it between records, e.g. after each Process. An
  // error means the unit cannot commit: call Rewind().
  absl::Status SendOutputs(OutputSink& sink);

  // Rewind discards the staged unit and all cached state.
  void Rewind();

  // ResumeOffset is where reading a partition must resume: the offset recorded in the store,
  // or nullopt when it has none (then the consumer group's position applies). Restore the
  // partition's changelog tail first.
  absl::StatusOr<std::optional<int64_t>> ResumeOffset(const TopicPartition& tp);

  // ChangelogPosition is the next changelog offset of a partition the store reflects; nullopt
  // when it reflects none of it (then the changelog is read from its beginning).
  absl::StatusOr<std::optional<int64_t>> ChangelogPosition(int32_t partition);
  // RestoreChangelog applies records read from a partition's changelog, in order, to the store
  // in one atomic batch, with `next_offset` as the partition's new changelog position. The
  // input offsets in the records advance with the state. Call it with nothing staged or cached
  // for the partition (after Rewind or before it is first processed).
  absl::Status RestoreChangelog(int32_t partition, const std::vector<ChangelogRecord>& records,
                                int64_t next_offset);

  // ForgetPartitions drops cached state of partitions this process no longer owns. Commit first.
  void ForgetPartitions(const std::vector<TopicPartition>& partitions);

  // ExpireTimers fires the timers due by `now` (or by the partition's event time, see
  // ProcessorOptions) of the accounts in these partitions, staging their outputs in the unit.
  // Call it between commit units' records, e.g. right after Commit. An error means the store
  // could not be read: Rewind() and retry later.
  absl::Status ExpireTimers(const std::vector<int32_t>& partitions, absl::Time now);
  // NextTimer is the earliest due time in the timer index of these partitions (InfiniteFuture
  // when none), so the caller knows how long it may wait.
  absl::StatusOr<absl::Time> NextTimer(const std::vector<int32_t>& partitions);

 private:
  void DeadLetter(const InputRecord& record, const absl::Status& reason);
  // Match handles an engagement event without an account id.
  absl::Status Match(const InputRecord& record, baton::v1::EngagementEvent event);
  // UpdateDirectory records what a CRM upsert says about contacts and domains, and releases the
  // engagement that was waiting for it.
  absl::Status UpdateDirectory(const baton::v1::CrmEvent& event);
  void Rekey(baton::v1::EngagementEvent event, const std::string& account_id,
             baton::v1::MatchMethod method);
  // PendingWrite is the unit's or the landing unit's write of a directory key, if any.
  const std::optional<std::string>* PendingWrite(const std::string& key) const;
  absl::StatusOr<std::optional<std::string>> DirectoryGet(const std::string& key);
  // DirectoryScan reads the engagement waiting under `prefix` (which starts with the waiting
  // range's own prefix), in key order.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> DirectoryScan(
      const std::string& prefix);
  // NoteWaiting records in the filter that engagement waits under a domain (reversed, see
  // core::ReversedDomain). MayBeWaiting: false if no engagement waits under the domain or a
  // subdomain; true if some may.
  void NoteWaiting(absl::string_view reversed);
  absl::StatusOr<bool> MayBeWaiting(absl::string_view reversed);
  const core::FreeMailDomains& FreeMail();
  void Stage(const core::Effects& effects, const std::string& account_id);
  absl::StatusOr<core::Team*> Team();
  // IndexTimer moves the account's timer-index entry from `before` to its current due time.
  void IndexTimer(int32_t partition, const core::Account& account, int64_t before);
  absl::StatusOr<core::Account*> Account(int32_t partition, absl::string_view account_id);
  // EvictClean runs after each commit: it evicts some of the accounts chosen, chooses more when
  // none are left and the cache is at 95% of its bound, and evicts whatever is over the bound.
  void EvictClean();
  // ChooseEvictions chooses clean accounts to evict, down to 85% of the bound, the least often
  // and least recently used first; false when there are none to choose.
  bool ChooseEvictions();
  // EvictChosen evicts up to n of the accounts chosen, skipping those used since.
  void EvictChosen(size_t n);
  // KeepSerialized files an evicted account in serialized_, dropping the oldest over the budget.
  void KeepSerialized(const std::string& key, core::Account&& account);
  // DropSerializedPartition forgets the serialized accounts of a partition.
  void DropSerializedPartition(int32_t partition);

  ProcessorOptions options_;
  const core::Engine& engine_;
  StateStore& store_;
  Observer& observer_;

  struct Cached {
    core::Account account;
    // The commit unit that last used the account: among accounts used equally often lately,
    // eviction drops the least recently used.
    uint64_t last_used = 0;
    uint64_t key_hash = 0;
    // The unit being built when the account was last used (see used_).
    uint64_t used_in = 0;
  };
  absl::flat_hash_map<std::string, Cached> cache_;
  // Keys of the accounts used in the unit being built, once each: only these can have changed,
  // so Seal looks at these instead of the whole cache. building_ counts the units sealed.
  std::vector<std::string> used_;
  uint64_t building_ = 0;
  // Clean accounts chosen for eviction, and the value of unit_ when they were chosen.
  std::vector<std::string> chosen_;
  uint64_t chosen_in_ = 0;
  // Accounts evicted from cache_, serialized (see ProcessorOptions::serialized_cache_bytes), and
  // their keys in the order they were evicted; a key read back since stays in the order until it
  // comes to the front. Each holds its stored parts in one string (PackParts): one allocation
  // instead of a vector and a string per part (measured: about 1.55 KiB an entry, not 1.74).
  struct Serialized {
    std::string packed;
    size_t bytes = 0;  // counted against the budget
    uint64_t seq = 0;  // when filed: an older entry of the key in serialized_order_ is stale
  };
  absl::flat_hash_map<std::string, Serialized> serialized_;
  std::deque<std::pair<std::string, uint64_t>> serialized_order_;
  size_t serialized_bytes_ = 0;
  uint64_t serialized_seq_ = 0;
  // How often each account was used lately, cached or not: eviction keeps the often used.
  std::unique_ptr<FrequencySketch> use_counts_;
  uint64_t unit_ = 0;
  // Directory writes (nullopt deletes), by full key. Engagement waiting for a domain is read by
  // prefix, so it is kept in key order; every other key (contacts, emails, domains, timers) is
  // only read by key, and a CRM load writes two per contact upsert, tens of thousands a unit, so
  // those are hashed.
  struct DirectoryWrites {
    absl::flat_hash_map<std::string, std::optional<std::string>> by_key;
    std::map<std::string, std::optional<std::string>> waiting;
    bool empty() const { return by_key.empty() && waiting.empty(); }
    void clear() {
      by_key.clear();
      waiting.clear();
    }
  };
  // The unit being built's.
  DirectoryWrites directory_writes_;
  // The sealed unit's, until it is Finished.
  DirectoryWrites landing_writes_;
  // A Bloom filter of the domains (and their parent domains) with engagement waiting, so that
  // an upsert naming a domain nobody waits for skips the range scan: most upserts. Built from
  // the store on first use, kept up as engagement starts waiting (released engagement stays in
  // it until the next build), and dropped by Rewind and RestoreChangelog. Empty: not built.
  std::vector<uint64_t> waiting_bits_;
  std::optional<core::FreeMailDomains> free_mail_;
  // The routing team (reps, pools), loaded from the store on first use; dropped by Rewind.
  std::optional<core::Team> team_;
  // Latest event time processed per partition, for event-time timers.
  std::map<int32_t, absl::Time> partition_time_;
  const core::RuleSet* free_mail_rules_ = nullptr;
  std::vector<OutboundRecord> outputs_;
  // Outputs of this unit already handed to the sink by SendOutputs: the unit must publish
  // (which waits for them) even when nothing else is staged.
  bool sent_early_ = false;
  Offsets offsets_;
  CommitStats stats_;
};

}  // namespace baton::pipeline
