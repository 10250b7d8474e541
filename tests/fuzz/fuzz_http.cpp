// fuzz_http -- the metrics endpoint's request judgement (server/http_request.hpp) on any bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/http_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view head(reinterpret_cast<const char*>(data), size);
  auto v = phoenix::server::classify_request(head, 8192);
  // Only a request line naming /metrics may be answered with the metrics.
  if ((v == phoenix::server::HttpVerdict::get_metrics || v == phoenix::server::HttpVerdict::head_metrics) &&
      head.find("/metrics") == std::string_view::npos)
    std::abort();
  if (size > 8192 && v != phoenix::server::HttpVerdict::too_large) std::abort();
  return 0;
}
