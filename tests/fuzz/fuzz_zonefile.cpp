// fuzz_zonefile -- any text through the ldns zone-file reader, the ZoneBuilder checks and, when a zone
// comes out, a lookup of every owner for a few types (the frozen zone must answer what it accepted).
#include <cstdint>
#include <string_view>

#include "zones/zonefile.hpp"

using namespace phoenix;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const zones::Name origin = *zones::Name::from_text("lab.example");
  horizon::Diagnostics diag;
  auto zone = zones::load_zone_text(std::string_view(reinterpret_cast<const char*>(data), size), origin, "fuzz.zone", diag);
  if (!zone) return 0;
  for (const zones::Node* node : zone->sorted_nodes()) {
    for (uint16_t t : {zones::rrtype::A, zones::rrtype::CNAME, zones::rrtype::ANY, zones::rrtype::MX}) {
      zones::LookupResult r;
      zone->lookup(node->owner.wire(), t, r);
    }
  }
  return 0;
}
