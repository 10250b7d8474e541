// options -- the command line of phoenix-dns.
#pragma once

#include <optional>
#include <string>

#include "server/server.hpp"

namespace phoenix::server {

struct CommandLine {
  ServerOptions server;
  bool check = false;
  bool diff_from_state = false;  ///< with --check: what a reload would change against what is served
  std::string log_level = "info";
  std::optional<int> exit_code;  ///< set when parsing already decided (--help, --version, bad usage)
};

CommandLine parse_command_line(int argc, char** argv);

/// --check: the real loader with no publish step. Prints a summary; returns the exit code.
int run_check(const CommandLine& cl);

}  // namespace phoenix::server
