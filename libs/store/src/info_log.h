// InfoLog: RocksDB's information log (flushes, compactions, its warnings), written to a file in
// the store's directory like RocksDB's own logger does, except that a line the disk refuses is
// dropped and logging goes on.
//
// RocksDB 7.8's own logger keeps appending to its file after a failed write, and its file writer
// asserts on that: with the assertions of Debian's build, one line refused by a full disk and
// then any next line aborted Baton, where the store should only pause until space comes back.
//
// Each line is one write(2) on a file opened for appending, so no buffer is left to flush and
// lines from RocksDB's threads never interleave. Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "rocksdb/env.h"

namespace baton::store {

// OpenInfoLog keeps the log of the previous run as `file` + ".old" (replacing an older one) and
// starts `file` empty. Null if `file` cannot be created; RocksDB then logs on its own.
std::shared_ptr<rocksdb::Logger> OpenInfoLog(const std::string& file);

}  // namespace baton::store
