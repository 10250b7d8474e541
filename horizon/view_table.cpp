#include "view_table.hpp"

namespace phoenix::horizon {

ViewId ViewTable::add_view(std::string name, const std::vector<IpPrefix>& match_clients) {
  return add_view(std::move(name), match_clients, {}, {});
}

ViewId ViewTable::add_view(std::string name, const std::vector<IpPrefix>& match_clients,
                           const std::vector<IpPrefix>& match_destinations, const std::vector<std::string>& match_keys) {
  auto id = static_cast<ViewId>(names_.size());
  names_.push_back(std::move(name));
  destinations_.push_back(match_destinations);
  has_destinations_ = has_destinations_ || !match_destinations.empty();
  for (auto& k : match_keys) keys_.emplace_back(k, id);
  for (auto& p : match_clients) {
    if (p.addr.is_v4()) {
      uint32_t mask = p.length == 0 ? 0 : ~uint32_t{0} << (32 - p.length);
      v4_.push_back({p.addr.v4_host_order() & mask, mask, id, p});
    } else {
      v6_.push_back({p, id});
    }
  }
  return id;
}

const IpPrefix* ViewTable::matching_rule(const IpAddr& client) const {
  IpAddr a = client.unmapped();
  if (a.is_v4()) {
    // Rules were appended in view order, so the first hit is the first match.
    uint32_t h = a.v4_host_order();
    for (auto& r : v4_)
      if ((h & r.mask) == r.net) return &r.prefix;
    return nullptr;
  }
  for (auto& r : v6_)
    if (r.prefix.contains(a)) return &r.prefix;
  return nullptr;
}

ViewId ViewTable::match(const IpAddr& client) const {
  IpAddr a = client.unmapped();
  if (a.is_v4()) {
    uint32_t h = a.v4_host_order();
    for (auto& r : v4_)
      if ((h & r.mask) == r.net) return r.view;
    return kNoView;
  }
  for (auto& r : v6_)
    if (r.prefix.contains(a)) return r.view;
  return kNoView;
}

ViewId ViewTable::match(const IpAddr& client, const IpAddr& local) const {
  if (!has_destinations_) return match(client);
  const IpAddr c = client.unmapped(), l = local.unmapped();
  auto arrived_right = [&](ViewId v) {
    const auto& d = destinations_[v];
    if (d.empty()) return true;
    for (auto& p : d)
      if (p.contains(l)) return true;
    return false;
  };
  if (c.is_v4()) {
    uint32_t h = c.v4_host_order();
    for (auto& r : v4_)
      if ((h & r.mask) == r.net && arrived_right(r.view)) return r.view;
    return kNoView;
  }
  for (auto& r : v6_)
    if (r.prefix.contains(c) && arrived_right(r.view)) return r.view;
  return kNoView;
}

ViewId ViewTable::match_key(std::string_view key_name) const {
  for (auto& [k, v] : keys_)
    if (k == key_name) return v;
  return kNoView;
}

}  // namespace phoenix::horizon
