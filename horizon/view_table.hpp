// view_table -- ordered match rules compiled into a flat table; first match wins (BIND match-clients).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ip_prefix.hpp"

namespace phoenix::horizon {

using ViewId = uint16_t;
inline constexpr ViewId kNoView = 0xffff;

class ViewTable {
 public:
  /// Appends a view's selectors; views are matched in the order they are added.
  ViewId add_view(std::string name, const std::vector<IpPrefix>& match_clients);

  /// The first view with a selector containing `client` (IPv4-mapped IPv6 is matched as IPv4), or kNoView.
  ViewId match(const IpAddr& client) const;
  /// The selector that decided, for explanations (`phoenix-netgen view`); nullptr if none.
  const IpPrefix* matching_rule(const IpAddr& client) const;

  const std::string& name(ViewId id) const { return names_.at(id); }
  size_t size() const { return names_.size(); }

 private:
  // A handful of prefixes: a linear scan over masked words, a few ns per match (bench/micro/bm_query.cpp BM_ViewMatch).
  struct Rule4 {
    uint32_t net, mask;
    ViewId view;
    IpPrefix prefix;
  };
  struct Rule6 {
    IpPrefix prefix;
    ViewId view;
  };
  std::vector<Rule4> v4_;
  std::vector<Rule6> v6_;
  std::vector<std::string> names_;
};

}  // namespace phoenix::horizon
