// text -- the few string steps netgen's readers share (inventory rules, Proxmox files): one copy.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace phoenix::netgen {

std::string trim(std::string_view s);
std::string lower(std::string_view s);
std::string upper(std::string_view s);
/// Splits on `sep`, trimming each part; "" gives one empty part.
std::vector<std::string> split(std::string_view s, char sep);
/// The lines of a file, without their '\n' (and a '\r' before it).
std::vector<std::string_view> lines_of(std::string_view text);

}  // namespace phoenix::netgen
