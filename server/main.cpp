// phoenix-dns -- thin main: options, logging, then the server or the check.
#include <spdlog/spdlog.h>

#include "server/options.hpp"
#include "server/server.hpp"

int main(int argc, char** argv) {
  auto cl = phoenix::server::parse_command_line(argc, argv);
  if (cl.exit_code) return *cl.exit_code;
  if (cl.check) return phoenix::server::run_check(cl);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %l: %v");
  spdlog::set_level(spdlog::level::from_str(cl.log_level));
  try {
    return phoenix::server::run_server(cl.server);
  } catch (const std::exception& e) {
    spdlog::critical("fatal: {}", e.what());
    return 1;
  }
}
