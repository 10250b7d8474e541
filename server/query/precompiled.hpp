// precompiled -- the fast path: replies built once per snapshot, copied and patched per query.
//
// At snapshot time every (view, owner name, type the name has) is answered by the real processor and
// the bytes after the question are kept (zones::AnswerTable). Per query, a plain query (one question,
// class IN, at most a bare EDNS(0) OPT) whose key is in the table is answered by copying the header
// (ID, RD, CD patched in), the client's own question bytes (so its case is echoed and compression
// pointers to offset 12 stay valid: only the case can differ), the precompiled sections, and our OPT.
// Anything else, and any reply that would not fit the client's limit (TC logic), takes the full path,
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

/// The reply from snap.answers when the query qualifies, else 0 (the caller then uses process_query).
size_t precompiled_reply(const uint8_t* in, size_t in_len, const QueryContext& ctx, uint8_t* out, size_t cap) noexcept;

/// What the transports call: the precompiled reply when there is one, else the full path.
inline size_t answer_query(const uint8_t* in, size_t in_len, const QueryContext& ctx, uint8_t* out,
                           size_t cap) noexcept {
  if (size_t n = precompiled_reply(in, in_len, ctx, out, cap)) return n;
  return process_query(in, in_len, ctx, out, cap);
}

}  // namespace phoenix::query
