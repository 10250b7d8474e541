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
#pragma once

#include <cstddef>
#include <cstdint>

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

/// What the processor decided before the precompiled stage runs.
struct PrecompiledInput {
  const ParsedQuery& q;  ///< a plain query (ParsedQuery::plain), class IN, opcode QUERY
  horizon::ViewId view;
  uint8_t flags1, flags2;  ///< the reply's header flags so far (QR, opcode, RD; RA, CD): OR-ed in
  size_t limit;            ///< the largest reply the client takes
};

/// Stage: precompiled. The reply from `table` for `in`, or 0 (no entry, or too big for the limit).
size_t precompiled_reply(const zones::AnswerTable& table, const PrecompiledInput& in, uint8_t* out) noexcept;

}  // namespace phoenix::query
