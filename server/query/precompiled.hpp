// precompiled -- the processor's precompiled stage: replies built once per snapshot, copied per query.
//
// At snapshot time every (view, owner name, type the name has) is answered by the processor itself
// (every stage, no EDNS, RD/CD clear) and the bytes after the question are kept (zones::AnswerTable).
// Per query, once the processor has parsed a plain query (one question, class IN, at most a bare
// EDNS(0) OPT) and chosen its view, the stage looks the key up and writes the stored header with
// the processor's flags (ID, RD, CD, RA), the client's own question bytes (so its case is echoed and
// compression pointers to offset 12 stay valid), the stored sections, and the processor's OPT. A
// reply that would not fit the processor's size limit is left to the full path, which truncates it,
// so the bytes on the wire are identical either way (tests/unit/server/test_precompiled.cpp).
// The forwarder's cache hits take the same stage (write_stored_reply): their replies are kept as
// wire bytes per view and question, and only their TTLs are aged on the way out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "processor.hpp"
#include "zones/snapshot.hpp"

namespace phoenix::query {

/// Above this many answers (one per owner and type, each zone counted once) nothing is precompiled:
/// the table would cost about 70 bytes and 250 ns of load time per answer, which for a million-name
/// zone is more memory than the zone and seconds of reload, for a few percent of throughput.
inline constexpr size_t kPrecompileMax = 500000;

/// Fills snap.answers from snap's views and zones; returns false (and leaves it empty) when the
/// snapshot has more than `max_entries` answers. Call before the snapshot is published.
bool precompile_answers(zones::Snapshot& snap, size_t max_entries = kPrecompileMax);

/// A reply kept as wire bytes: one of the precompiled table, or one the forwarder's cache holds.
struct StoredReply {
  /// 12 bytes: ID 0, only the flags that belong to the answer itself (AA, AD, the rcode), the counts.
  const uint8_t* header = nullptr;
  const uint8_t* body = nullptr;  ///< the sections after the question
  size_t body_len = 0;
  /// Where TTLs sit (offsets from the message start), to be counted down by `age` seconds: a cached
  /// answer ages, a precompiled one does not (it has none).
  std::span<const uint16_t> ttls = {};
  uint32_t age = 0;
  /// When the reply does not fit the limit: false, return 0 (the full path truncates it by RRsets);
  /// true, an empty reply with TC (RFC 2181 §9), for answers no other stage can rebuild.
  bool truncate = false;
};

/// Stage: precompiled. Writes `r` as the reply to `in.q`: the stored header with the client's ID and
/// the processor's flags, the client's own question bytes (so its case is echoed and compression
/// pointers to offset 12 stay valid; its length must be the stored question's), the stored sections
/// with TTLs aged, and the processor's OPT. Returns the length, or 0 (see StoredReply::truncate).
size_t write_stored_reply(const StoredReply& r, const PrecompiledInput& in, uint8_t* out) noexcept;

/// The reply from `table` for `in`, or 0 (no entry, or too big for the limit).
size_t precompiled_reply(const zones::AnswerTable& table, const PrecompiledInput& in, uint8_t* out) noexcept;

}  // namespace phoenix::query
