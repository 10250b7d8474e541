// label -- turning guest and service names into DNS labels.
#pragma once

#include <string>
#include <string_view>

namespace phoenix::horizon {

/// lower-case; every character outside [a-z0-9-] becomes '-'; runs of '-' collapse; ends trimmed.
/// "Copy-Cuda12.8" -> "copy-cuda12-8". May return "" (caller reports it) and is cut to 63 octets.
std::string sanitize_label(std::string_view name);

/// True for a valid host name in presentation form: labels of [A-Za-z0-9-_*], 1..63 octets, 253 total.
bool is_valid_hostname(std::string_view name);

/// Lower-cases and strips one trailing dot.
std::string normalize_fqdn(std::string_view name);

}  // namespace phoenix::horizon
