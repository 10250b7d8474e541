// view_table -- ordered match rules compiled into a flat table; first match wins (BIND match-clients).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ip_prefix.hpp"

namespace phoenix::horizon {

using ViewId = uint16_t;
inline constexpr ViewId kNoView = 0xffff;

class ViewTable {
 public:
  /// Appends a view's selectors; views are matched in the order they are added.
  ViewId add_view(std::string name, const std::vector<IpPrefix>& match_clients);
  /// The same with the view's match_destinations (empty: any local address) and match_keys (TSIG key
  /// names, lower-case, no trailing dot), as horizon/inventory.hpp's ViewSpec describes them.
  ViewId add_view(std::string name, const std::vector<IpPrefix>& match_clients,
                  const std::vector<IpPrefix>& match_destinations, const std::vector<std::string>& match_keys);

  /// The first view with a selector containing `client` (IPv4-mapped IPv6 is matched as IPv4), or kNoView.
  ViewId match(const IpAddr& client) const;
  /// The first view whose match_clients contain `client` and whose match_destinations (if any)
  /// contain `local`, the address the query arrived on. An unspecified `local` (not known) matches
  /// only views without match_destinations.
  ViewId match(const IpAddr& client, const IpAddr& local) const;
  /// The first view that lists this TSIG key (lower-cased, no trailing dot) in match_keys, or kNoView.
  ViewId match_key(std::string_view key_name) const;
  /// Some view has match_destinations: the transports must tell match() where a query arrived.
  bool has_destinations() const { return has_destinations_; }
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
  std::vector<std::vector<IpPrefix>> destinations_;  ///< per view
  std::vector<std::pair<std::string, ViewId>> keys_;  ///< in view order
  bool has_destinations_ = false;
};

}  // namespace phoenix::horizon
