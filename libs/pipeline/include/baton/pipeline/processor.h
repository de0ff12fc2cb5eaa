// Processor: Baton's processing loop body, one commit unit at a time (DESIGN.md, invariant 3).
//
// Each input record is decoded, validated, applied to its account's state through the engine,
// and its outputs are staged; a record Baton cannot use is staged for the dead-letter topic
// with its reason. Commit() then commits the unit: the staged outputs are published and
// acknowledged first, then the account states and the input offsets are written to the local
// store in one atomic batch.
//
// Rationale for that order: a crash after publishing but before the store commit replays the
// unit from the stored offsets against the stored (older) state, producing the same outputs with
// the same ids again — at-least-once with recognisable duplicates, never a lost handoff. The
// reverse order could lose outputs. Exactly-once mode wraps the same unit in a Kafka transaction.
//
// When a commit fails (broker or disk), nothing of the unit counts: the caller calls Rewind(),
// which drops the staged unit and every cached state, and seeks the inputs back to the stored
// offsets (ResumeOffset), so the unit is processed again when the fault clears.
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
// Thread-safety: not thread-safe; one processing thread owns a Processor.
#pragma once

#include <cstddef>
#include <map>
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
#include "baton/pipeline/ports.h"

namespace baton::pipeline {

struct ProcessorOptions {
  std::string engagement_topic = "abm.engagement.v1";
  std::string crm_topic = "abm.crm.v1";
  // Baton's internal topic of matched engagement, re-keyed by account id; consumed like the
  // engagement topic and co-partitioned with the inputs.
  std::string matched_topic = "abm.engagement-matched.v1";
  codec::DecodeOptions decode;
  codec::PayloadFormat output_format = codec::PayloadFormat::kProtobuf;
  // Account states kept in memory between commits; beyond this, the least recently used clean
  // ones are evicted after a commit. This, not the number of accounts, bounds Baton's memory.
  size_t max_cached_accounts = 10'000;
};

// AccountKey is the key prefix of an account's stored records: the partition (4 bytes,
// big-endian), the account id, and a NUL. Each record adds a suffix: "h" for the head, "d" and
// the day (8 bytes, big-endian) for a day of engagement.
std::string AccountKey(int32_t partition, absl::string_view account_id);

class Processor {
 public:
  Processor(ProcessorOptions options, const core::Engine& engine, StateStore& store,
            Observer& observer);

  // Process stages one record. An error means the store could not be read: the record is not
  // processed, and the caller must Rewind() and retry later.
  absl::Status Process(const InputRecord& record);

  // PendingEvents is the number of records staged since the last commit.
  size_t PendingEvents() const { return stats_.events; }

  // Commit commits the staged unit (see the class comment) and returns the offsets it
  // committed, for the consumer group. On error the unit is not committed: call Rewind().
  absl::StatusOr<Offsets> Commit(OutputSink& sink);

  // Rewind discards the staged unit and all cached state.
  void Rewind();

  // ResumeOffset is where reading a partition must resume: the offset recorded in the store,
  // or nullopt when it has none (then the consumer group's position applies).
  absl::StatusOr<std::optional<int64_t>> ResumeOffset(const TopicPartition& tp);

  // ForgetPartitions drops cached state of partitions this process no longer owns. Commit first.
  void ForgetPartitions(const std::vector<TopicPartition>& partitions);

 private:
  void DeadLetter(const InputRecord& record, const absl::Status& reason);
  // Match handles an engagement event without an account id.
  absl::Status Match(const InputRecord& record, baton::v1::EngagementEvent event);
  // UpdateDirectory records what a CRM upsert says about contacts and domains, and releases the
  // engagement that was waiting for it.
  absl::Status UpdateDirectory(const baton::v1::CrmEvent& event);
  void Rekey(baton::v1::EngagementEvent event, const std::string& account_id,
             baton::v1::MatchMethod method);
  absl::StatusOr<std::optional<std::string>> DirectoryGet(const std::string& key);
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> DirectoryScan(
      const std::string& prefix);
  const core::FreeMailDomains& FreeMail();
  void Stage(const core::Effects& effects, const std::string& account_id);
  absl::StatusOr<core::Account*> Account(int32_t partition, absl::string_view account_id);
  void EvictClean();

  ProcessorOptions options_;
  const core::Engine& engine_;
  StateStore& store_;
  Observer& observer_;

  struct Cached {
    core::Account account;
    // The commit unit that last used the account: eviction drops the least recently used.
    uint64_t last_used = 0;
  };
  absl::flat_hash_map<std::string, Cached> cache_;
  uint64_t unit_ = 0;
  // Directory writes of the unit being built (nullopt deletes), by full key.
  std::map<std::string, std::optional<std::string>> directory_writes_;
  std::optional<core::FreeMailDomains> free_mail_;
  const core::RuleSet* free_mail_rules_ = nullptr;
  std::vector<OutboundRecord> outputs_;
  Offsets offsets_;
  CommitStats stats_;
};

}  // namespace baton::pipeline
