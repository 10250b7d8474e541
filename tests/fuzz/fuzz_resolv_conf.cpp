// fuzz_resolv_conf -- any text as the host's resolv.conf: every nameserver found is an address on
// port 53, and leaving out this server never adds one.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/resolv_conf.hpp"

using namespace phoenix;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto all = server::parse_resolv_conf(text);
  for (auto& ns : all)
    if (ns.port != 53) std::abort();
  std::vector<horizon::Endpoint> listen = {*horizon::Endpoint::parse("127.0.0.1:53", 53),
                                           *horizon::Endpoint::parse("[::]:53", 53)};
  auto others = server::other_nameservers(all, listen);
  if (others.size() > all.size()) std::abort();
  for (auto& ns : others)
    if (ns.addr == listen[0].addr || !ns.addr.is_v4()) std::abort();
  return 0;
}
