//===- AttentionMaskInput.h - an attention_mask input of all ones --*- C++ -*-===//
//
// Decoders exported with an `attention_mask` input ([batch, length] of 1 for
// tokens to attend and 0 for padding; optimum's exports and transformers
// wrappers that pass it) build their causal mask from its data, which is
// not known at compile time, so moec-raise-attention could not prove the
// mask causal. moec compiles attention without padding: the input is removed
// and the graph reads ones of its shape instead ([batch, T] without a cache,
// [batch, total_sequence_length] with the growing cache rewritten by
// GrowingCache.h). A caller that needs padding cannot pass it and is told so
// by the missing input, rather than getting results that ignore it.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_IMPORT_ATTENTIONMASKINPUT_H
#define MOEC_COMPILER_IMPORT_ATTENTIONMASKINPUT_H

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace moec::import {

// The attention_mask input, taken out of the graph's inputs.
struct AttentionMaskInput {
  ::onnx::ValueInfoProto input;
};

// Removes an input named attention_mask of rank 2 whose second dim is
// symbolic (its batch static or bound) from `graph.input()`; std::nullopt
// (graph untouched) without one. Sets `error` for an attention_mask moec
// cannot replace.
std::optional<AttentionMaskInput>
takeAttentionMask(::onnx::GraphProto &graph, const std::map<std::string, int64_t> &bindings,
                  std::string &error);

// Defines attention_mask as ones of [batch, length]: length the token count
// (the second dim is the symbol of another input's dim) or, with `withCache`,
// total_sequence_length (the input GrowingCache.h added). Sets `error` when
// the length is neither.
bool defineOnesMask(::onnx::GraphProto &graph, const AttentionMaskInput &mask, bool withCache,
                    const std::map<std::string, int64_t> &bindings, std::string &error);

} // namespace moec::import

#endif // MOEC_COMPILER_IMPORT_ATTENTIONMASKINPUT_H
