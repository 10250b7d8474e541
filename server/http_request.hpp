// http_request -- the one HTTP request the metrics endpoint understands, judged from its head.
// Header-only and Asio-free, so that the fuzz target (tests/fuzz/fuzz_http.cpp) runs exactly this code.
#pragma once

#include <cstddef>
#include <string_view>

namespace phoenix::server {

enum class HttpVerdict { get_metrics, head_metrics, too_large, bad_request, not_found, bad_method };

/// `head` is what a client sent up to the blank line (or more than `max` bytes of it). Only the request
/// line is read (RFC 9112 section 3: METHOD SP TARGET SP VERSION); headers are not needed to answer.
inline HttpVerdict classify_request(std::string_view head, size_t max) noexcept {
  if (head.size() > max) return HttpVerdict::too_large;
  std::string_view line = head.substr(0, head.find_first_of("\r\n"));
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.substr(sp2 + 1).substr(0, 5) != "HTTP/") return HttpVerdict::bad_request;
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));  // a query string (Prometheus adds none) changes nothing
  if (target != "/metrics") return HttpVerdict::not_found;
  if (method == "GET") return HttpVerdict::get_metrics;
  if (method == "HEAD") return HttpVerdict::head_metrics;
  return HttpVerdict::bad_method;
}

}  // namespace phoenix::server
