// fuzz_inventory -- any bytes as the inventory: load, derive the plan, build the snapshot.
//
// The input is split at NUL bytes (which JSON text cannot contain) into up to four files, in the
// order hypervisor, lxc, vm, stacks, written to a private temporary directory.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "horizon/loader.hpp"
#include "horizon/plan.hpp"
#include "zones/snapshot.hpp"

using namespace phoenix;

namespace {

std::filesystem::path g_dir;

void remove_dir() {
  std::error_code ec;
  std::filesystem::remove_all(g_dir, ec);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "phoenix-fuzz-inv-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) std::abort();
  g_dir = tmpl;
  std::atexit(remove_dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* const kFiles[] = {horizon::kHypervisorFile, horizon::kLxcFile, horizon::kVmFile,
                                       horizon::kStacksFile};
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (size_t i = 0; i < 4; ++i) {
    auto path = g_dir / kFiles[i];
    std::error_code ec;
    if (i > 0 && rest.data() == nullptr) {  // fewer parts than files: the optional files are absent
      std::filesystem::remove(path, ec);
      continue;
    }
    size_t cut = rest.find('\0');
    std::string_view part = rest.substr(0, cut);
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(part.data(), static_cast<std::streamsize>(part.size()));
    rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
  }
  auto loaded = horizon::load_inventory(g_dir);
  if (!loaded.inventory) return 0;
  horizon::Diagnostics diag;
  auto plan = horizon::derive_plan(*loaded.inventory, diag);
  if (diag.has_errors()) return 0;
  zones::SerialStore serials(std::nullopt);
  (void)zones::build_snapshot(plan, serials, diag);
  return 0;
}
