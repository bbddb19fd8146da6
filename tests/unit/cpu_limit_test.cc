#include "server/cpu_limit.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace portd::server {
namespace {

namespace fs = std::filesystem;

class CpuLimitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("portd-cgroup-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << text;
  }
  std::optional<double> quota(const std::string& proc) { return cgroupCpuQuota(root_, proc); }
  fs::path root_;
};

TEST_F(CpuLimitTest, V2Limit) {
  write("cpu.max", "150000 100000\n");
  EXPECT_DOUBLE_EQ(*quota("0::/\n"), 1.5);
}

TEST_F(CpuLimitTest, V2NoLimit) {
  write("cpu.max", "max 100000\n");
  EXPECT_FALSE(quota("0::/\n"));
}

TEST_F(CpuLimitTest, V2NestedCgroupOfTheProcess) {
  write("cpu.max", "max 100000\n");
  write("system.slice/portd.service/cpu.max", "100000 100000\n");
  EXPECT_DOUBLE_EQ(*quota("0::/system.slice/portd.service\n"), 1.0);
}

TEST_F(CpuLimitTest, V1HybridLayout) {
  // What podman's --cpus 1.5 shows on this machine (cgroup v1, hybrid).
  write("cpu,cpuacct/cpu.cfs_quota_us", "150000\n");
  write("cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  EXPECT_DOUBLE_EQ(*quota("12:cpu,cpuacct:/\n0::/\n"), 1.5);
}

TEST_F(CpuLimitTest, V1Unlimited) {
  write("cpu/cpu.cfs_quota_us", "-1\n");
  write("cpu/cpu.cfs_period_us", "100000\n");
  EXPECT_FALSE(quota("4:cpu:/\n"));
}

TEST_F(CpuLimitTest, NothingReadable) { EXPECT_FALSE(quota("garbage\n")); }

TEST(CpuBudget, WorkersNeverExceedTheQuotaRoundedUpNorTheAffinity) {
  CpuBudget b = cpuBudget();
  EXPECT_GE(b.workers, 1u);
  EXPECT_LE(b.workers, b.affinity);
  if (b.quota) {
    EXPECT_LE(b.workers, static_cast<unsigned>(std::ceil(*b.quota)));
  }
}

}  // namespace
}  // namespace portd::server
