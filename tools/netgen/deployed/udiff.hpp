// udiff -- unified diffs (the format of diff -u and patch(1)) between two texts, line by line.
#pragma once

#include <string>

namespace phoenix::netgen::deployed {

/// "" when the texts are equal; else "--- a\n+++ b\n@@ -l,n +l,n @@\n..." with `context` lines around changes.
std::string unified_diff(const std::string& a, const std::string& b, const std::string& label_a,
                         const std::string& label_b, size_t context = 3);

}  // namespace phoenix::netgen::deployed
