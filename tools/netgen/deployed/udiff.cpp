#include "udiff.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

#include "text.hpp"

namespace phoenix::netgen::deployed {
namespace {

struct Op {
  char kind;  // ' ', '-', '+'
  size_t a, b;  // line index in a (for ' ' and '-') and in b (for ' ' and '+')
};

std::vector<std::string_view> split_lines(const std::string& s) {
  auto v = lines_of(s);
  if (!s.empty() && s.back() == '\n' && !v.empty() && v.back().empty()) v.pop_back();
  return v;
}

std::string range(size_t start, size_t count) {
  // A hunk that holds no line of one side names the line before it (diff -u's convention).
  return std::to_string(count == 0 ? start : start + 1) + "," + std::to_string(count);
}

}  // namespace

std::string unified_diff(const std::string& a, const std::string& b, const std::string& label_a,
                         const std::string& label_b, size_t context) {
  if (a == b) return "";
  auto x = split_lines(a), y = split_lines(b);
  // Files netgen owns are small (hundreds of lines): the quadratic table is fine.
  std::vector<std::vector<uint32_t>> lcs(x.size() + 1, std::vector<uint32_t>(y.size() + 1, 0));
  for (size_t i = x.size(); i-- > 0;)
    for (size_t j = y.size(); j-- > 0;)
      lcs[i][j] = x[i] == y[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  std::vector<Op> ops;
  size_t i = 0, j = 0;
  while (i < x.size() || j < y.size()) {
    if (i < x.size() && j < y.size() && x[i] == y[j]) ops.push_back({' ', i++, j++});
    // Deletions before insertions, as diff -u prints them.
    else if (i < x.size() && (j == y.size() || lcs[i + 1][j] >= lcs[i][j + 1])) ops.push_back({'-', i++, j});
    else ops.push_back({'+', i, j++});
  }
  std::string out = "--- " + label_a + "\n+++ " + label_b + "\n";
  size_t k = 0;
  while (k < ops.size()) {
    while (k < ops.size() && ops[k].kind == ' ') ++k;
    if (k == ops.size()) break;
    size_t start = k >= context ? k - context : 0, end = k;
    // Extend the hunk while the next change is within 2*context unchanged lines.
    while (end < ops.size()) {
      size_t next = end;
      while (next < ops.size() && ops[next].kind != ' ') ++next;
      size_t same = next;
      while (same < ops.size() && ops[same].kind == ' ') ++same;
      end = next;
      if (same == ops.size() || same - next > 2 * context) {
        end = std::min(ops.size(), next + context);
        break;
      }
      end = same;
    }
    size_t a0 = ops[start].a, b0 = ops[start].b, na = 0, nb = 0;
    std::string body;
    for (size_t h = start; h < end; ++h) {
      auto& op = ops[h];
      std::string_view line = op.kind == '+' ? y[op.b] : x[op.a];
      body += op.kind;
      body += line;
      body += "\n";
      na += op.kind != '+';
      nb += op.kind != '-';
    }
    out += "@@ -" + range(a0, na) + " +" + range(b0, nb) + " @@\n" + body;
    k = end;
  }
  return out;
}

}  // namespace phoenix::netgen::deployed
