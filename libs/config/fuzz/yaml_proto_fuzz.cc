// yaml_proto_fuzz: libFuzzer target for ParseYamlToProto. Arbitrary bytes go in as a YAML document
// for baton.config.test.TestConfig (recursive conditions, oneofs, maps, Duration, Timestamp).
// Besides crashes and sanitizer reports, it checks the loader's contract:
//   - an error names the file and leaves the message cleared;
//   - a loaded message survives protobuf's own checks (serialize, then parse back: this catches
//     invalid UTF-8 in a string field, which protobuf refuses to parse).
//
// Build with clang: cmake -DBATON_FUZZ=ON; run: yaml_proto_fuzz -dict=yaml.dict CORPUS_DIR...
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "baton/config/yaml_proto.h"
#include "tests/test_config.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  baton::config::test::TestConfig config;
  const absl::StatusOr<baton::config::SourceMap> sources =
      baton::config::ParseYamlToProto(text, "fuzz.yaml", &config);
  if (!sources.ok()) {
    if (!absl::StartsWith(sources.status().message(), "fuzz.yaml")) std::abort();
    if (config.ByteSizeLong() != 0) std::abort();
    return 0;
  }
  std::string wire;
  if (!config.SerializeToString(&wire)) std::abort();
  baton::config::test::TestConfig round_trip;
  if (!round_trip.ParseFromString(wire)) std::abort();
  // Exercise the SourceMap on a path that may or may not have been written.
  (void)sources->Where("rules[0].when.all[0].count.at_least");
  return 0;
}
