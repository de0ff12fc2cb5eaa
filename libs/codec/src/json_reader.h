// FastJsonToMessage: a fast reader for protobuf's JSON mapping (proto3), built on simdjson.
//
// It reads the inputs Baton sees every day — objects of strings, booleans, numbers, enum names,
// RFC 3339 timestamps, nested messages and arrays — several times faster than protobuf's
// JsonStringToMessage, and yields the same message, bit for bit. Protobuf's parser stays the
// authority: whatever this reader is not certain to read exactly as protobuf would (null, maps,
// bytes, floats, well-known types other than Timestamp, numbers given as strings in unusual
// forms, duplicate or unknown keys, invalid JSON, ...) it declines, and the caller hands the
// payload to JsonStringToMessage, which then also produces the error message for bad input.
//
// Rationale: a second parser for the same mapping only pays if it never disagrees with the
// first. So the reader accepts a strict subset of what protobuf accepts, and the differential
// tests (json_reader_test) and the fuzz target (decode_fuzz) compare the two on every input.
//
// Thread-safety: safe to call from any number of threads; each thread keeps its own parser and
// buffer (thread_local), reused across calls.
#pragma once

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace baton::codec {

// FastJsonToMessage parses `json` into `*out`, which must be empty (freshly made or cleared),
// as JsonStringToMessage would with ignore_unknown_fields = false. It returns true only when it
// read the whole input and `*out` equals what JsonStringToMessage yields. It returns false when
// it is not sure; `*out` is then partly filled and must be cleared before another parse.
bool FastJsonToMessage(absl::string_view json, google::protobuf::Message* out);

}  // namespace baton::codec
