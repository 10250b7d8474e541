// fuzz_last_good -- any text as --state-dir/last-good.json: refused with a reason, or a snapshot that
// answers a few queries in every view without crashing.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/last_good.hpp"
#include "server/query/processor.hpp"
#include "server/wire/query_builder.hpp"

using namespace phoenix;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string error;
  auto lg = server::parse_last_good(std::string_view(reinterpret_cast<const char*>(data), size), error);
  if (!lg) {
    if (error.empty()) std::abort();  // every refusal says why
    return 0;
  }
  std::vector<uint8_t> out(1232);
  for (horizon::ViewId v = 0; v < lg->snapshot->view_data.size(); ++v)
    for (auto* name : {"ollama.internal.thinkheads.ai", "1.1.168.192.in-addr.arpa", "foo"}) {
      auto q = wire::build_query(name, 1, 7, true, std::nullopt);
      query::QueryContext ctx{lg->snapshot.get(), *horizon::IpAddr::parse("127.0.0.1"), false, nullptr, nullptr};
      ctx.view_override = v;
      if (query::process_query(q.data(), q.size(), ctx, out.data(), out.size()) > out.size()) std::abort();
    }
  return 0;
}
