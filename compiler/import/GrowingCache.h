//===- GrowingCache.h - a growing KV cache into a fixed-capacity one -*- C++ -*-===//
//
// transformers' decoders exported with their cache (torch.onnx, optimum) take
// past_<name> [B, KV, past, D] and return present_<name> = Concat(past, new)
// [B, KV, past + seq, D]: the cache grows by the run's tokens. moec's shapes
// are affine in one symbol, the token count, and a server wants the cache in
// one buffer it never reallocates, so moec compiles such a model into the
// form onnxruntime-genai's graphs have (com.microsoft.GroupQueryAttention):
//
//  - every past_<name> becomes [B, KV, capacity, D]; its first `past` rows
//    hold the cache, and present_<name> (same type) is that buffer with the
//    run's rows written at [past, past + seq) (moe.attention);
//  - two inputs are added: seqlens_k (int32 [B], past + seq - 1 per row) and
//    total_sequence_length (int32 [1], past + seq), as GroupQueryAttention
//    takes them;
//  - every Shape of a cache input reads `past` as total_sequence_length minus
//    the token count, so positions (Range(0, seq) + past) stay run-time values.
//
// This rewrite works on the protobuf before import; moec-raise-attention then
// replaces each Concat(past, new) and the attention reading it with one
// moe.attention. A cache the raise does not consume leaves a shape that
// moec-onnx-infer-shapes reports.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_IMPORT_GROWINGCACHE_H
#define MOEC_COMPILER_IMPORT_GROWINGCACHE_H

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace moec::import {

struct GrowingCacheRewrite {
  std::string pastSymbol;  // the dim name the cache inputs grew along
  int64_t capacity = 0;    // the rows each cache buffer now holds
  int cacheInputs = 0;
};

// Rewrites `graph` in place when its inputs hold exactly two symbolic dims
// (after `bindings`): the token count, and a second one first seen in an
// input named past* that every input carrying it has at axis 2 of a rank-4
// tensor. Returns std::nullopt (graph untouched, `error` empty) when the graph
// has no growing cache; sets `error` when it has one moec cannot rewrite.
std::optional<GrowingCacheRewrite>
rewriteGrowingCache(::onnx::GraphProto &graph, const std::map<std::string, int64_t> &bindings,
                    int64_t capacity, std::string &error);

} // namespace moec::import

#endif // MOEC_COMPILER_IMPORT_GROWINGCACHE_H
