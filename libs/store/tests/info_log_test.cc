#include "info_log.h"

#include <sys/resource.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scratch_dir_test.h"

namespace baton::store {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Read(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class InfoLogTest : public ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    std::filesystem::create_directories(dir_);
  }
};

TEST_F(InfoLogTest, LinesGoToTheFileAndTheLastRunsLogIsKeptBesideIt) {
  const std::string file = (dir_ / "LOG").string();
  {
    std::shared_ptr<rocksdb::Logger> log = OpenInfoLog(file);
    ASSERT_NE(log, nullptr);
    rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, log, "flushed %d bytes", 4096);
    rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, log, "DB SUMMARY\n");
    rocksdb::Log(rocksdb::InfoLogLevel::WARN_LEVEL, log, "stalling writes");
  }
  EXPECT_THAT(Read(file),
              ::testing::MatchesRegex("[0-9/]+-[0-9:.]+ [0-9]+ flushed 4096 bytes\n"
                                      "[0-9/]+-[0-9:.]+ [0-9]+ DB SUMMARY\n"
                                      "[0-9/]+-[0-9:.]+ [0-9]+ \\[WARN\\] stalling writes\n"));
  std::shared_ptr<rocksdb::Logger> log = OpenInfoLog(file);
  rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, log, "reopened");
  EXPECT_THAT(Read(file), Not(HasSubstr("flushed")));
  EXPECT_THAT(Read(file), HasSubstr("reopened\n"));
  EXPECT_THAT(Read(dir_ / "LOG.old"), HasSubstr("flushed 4096 bytes\n"));
}

// Logs three lines through a file size limit that refuses writes the way a full disk does, then
// one more once the limit is lifted, and exits 0 if the process survived.
[[noreturn]] void LogThroughAFullDisk(const std::string& file) {
  std::shared_ptr<rocksdb::Logger> log = OpenInfoLog(file);
  if (log == nullptr) std::exit(2);
  std::signal(SIGXFSZ, SIG_IGN);  // a write past the limit fails with EFBIG instead
  rlimit limit{};
  getrlimit(RLIMIT_FSIZE, &limit);
  const rlimit full{.rlim_cur = 64, .rlim_max = limit.rlim_max};
  setrlimit(RLIMIT_FSIZE, &full);
  for (int i = 0; i < 3; ++i) {
    rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, log, "compaction %d finished", i);
    log->Flush();  // as RocksDB does every few seconds
  }
  setrlimit(RLIMIT_FSIZE, &limit);
  rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, log, "space is back");
  std::exit(0);
}

// RocksDB's own logger (rocksdb::NewEnvLogger, at INFO_LEVEL) aborts on the third line here.
TEST_F(InfoLogTest, ALineTheDiskRefusesIsDroppedAndLoggingGoesOn) {
  const std::string file = (dir_ / "LOG").string();
  EXPECT_EXIT(LogThroughAFullDisk(file), ::testing::ExitedWithCode(0), "");
  const std::string written = Read(file);
  EXPECT_THAT(written, HasSubstr("compaction 0 finished\n"));
  EXPECT_THAT(written, Not(HasSubstr("compaction 2")));
  EXPECT_THAT(written, HasSubstr("space is back\n"));
}

}  // namespace
}  // namespace baton::store
