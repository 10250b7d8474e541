// fuzz_pve -- any text through the readers of what Proxmox deploys: byte 0 picks a firewall file
// (cluster.fw / <vmid>.fw), an lxc/<vmid>.conf or a qemu-server/<vmid>.conf; the rest is the file.
// Checks: every problem names a line of the input, every rule re-reads to the same meaning from the
// line netgen would print for it, every NIC line is a line of the input.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "deployed/guest_conf.hpp"
#include "deployed/pve_fw.hpp"
#include "text.hpp"

using namespace phoenix::netgen::deployed;
using phoenix::netgen::lines_of;

namespace {

void check_lines(const std::vector<FileProblem>& problems, size_t lines) {
  for (auto& p : problems)
    if (p.line > lines) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t lines = lines_of(text).size();
  switch (data[0] % 3) {
    case 0: {
      FwFile f = parse_fw_file(text, "fuzz.fw");
      check_lines(f.problems, lines);
      for (auto& r : f.rules) {
        if (r.line == 0 || r.line > lines) std::abort();
        FwFile again = parse_fw_file("[RULES]\n" + r.text(), "again.fw");
        if (again.rules.size() != 1 || again.rules[0].key() != r.key() || again.rules[0].comment != r.comment) std::abort();
      }
      break;
    }
    default: {
      auto kind = data[0] % 3 == 1 ? GuestConf::Kind::lxc : GuestConf::Kind::qemu;
      GuestConf g = parse_guest_conf(text, "fuzz.conf", kind, 100);
      check_lines(g.problems, lines);
      for (auto& n : g.nics) {
        if (n.line == 0 || n.line > lines || n.ip_line > lines) std::abort();
        (void)g.nic_for(n.ip);
      }
      break;
    }
  }
  return 0;
}
