// The serial store reads --state-dir/serials.json, a file an admin may edit or a crash may damage:
// what it cannot use is refused with a reason and the store starts empty.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "horizon/json_number.hpp"
#include "zones/serial.hpp"

using namespace phoenix;

namespace {

std::filesystem::path state_with(const std::string& serials_json) {
  auto dir = std::filesystem::temp_directory_path() /
             ("phoenix-serial-test-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "serials.json") << serials_json;
  return dir;
}

}  // namespace

TEST(SerialStore, KeepsAStoredSerialForTheSameContent) {
  auto dir = state_with(R"({"internal/example.com": {"hash": "ff", "serial": 2026120105}})");
  zones::SerialStore store(dir);
  EXPECT_EQ(store.load_error(), "");
  EXPECT_EQ(store.serial_for("internal/example.com", 0xff), 2026120105u);
  std::filesystem::remove_all(dir);
}

TEST(SerialStore, RefusesASerialThatIsNotAWholeNumber) {
  for (const char* bad : {"1.5e80", "-1", "4294967296", "\"7\""}) {
    auto dir = state_with(std::string(R"({"internal/example.com": {"hash": "ff", "serial": )") + bad + "}}");
    zones::SerialStore store(dir);
    EXPECT_NE(store.load_error().find("serials.json"), std::string::npos) << bad;
    EXPECT_NE(store.load_error().find("internal/example.com.serial: "),
              std::string::npos)
        << store.load_error();
    EXPECT_NE(store.load_error().find(" is not a whole number"), std::string::npos) << store.load_error();
    std::filesystem::remove_all(dir);
  }
}

TEST(JsonWholeNumber, AcceptsOnlyIntegersInRange) {
  using nlohmann::json;
  EXPECT_EQ(horizon::json_whole_number<uint32_t>(json(4294967295u), "x"), 4294967295u);
  EXPECT_EQ(horizon::json_whole_number<int>(json(-3), "x"), -3);
  EXPECT_THROW(horizon::json_whole_number<uint32_t>(json(4294967296ull), "x"), std::runtime_error);
  EXPECT_THROW(horizon::json_whole_number<uint32_t>(json(-1), "x"), std::runtime_error);
  EXPECT_THROW(horizon::json_whole_number<uint32_t>(json(1.67889e+80), "x"), std::runtime_error);
  EXPECT_THROW(horizon::json_whole_number<size_t>(json(1.0), "x"), std::runtime_error);
  EXPECT_THROW(horizon::json_whole_number<int>(json("1"), "x"), std::runtime_error);
}
