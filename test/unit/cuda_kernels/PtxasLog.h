// Parser for the resource report ptxas prints with -v (through NVRTC's
// --ptxas-options=-v, or nvcc -Xptxas -v): registers, stack frame and spill
// bytes per function. Used by the CUDA kernel compile test to fail on spills.
#ifndef MOEC_TEST_UNIT_CUDA_KERNELS_PTXASLOG_H
#define MOEC_TEST_UNIT_CUDA_KERNELS_PTXASLOG_H

#include <string>
#include <vector>

namespace moec_test {

struct FunctionResources {
  std::string name;
  std::string arch;       // from "Compiling entry function 'x' for 'sm_80'"; empty otherwise
  bool is_entry = false;  // a __global__ function (else a non-inlined device function)
  int registers = -1;     // -1 when the report had no "Used N registers" line for it
  long stack_bytes = 0;
  long spill_store_bytes = 0;
  long spill_load_bytes = 0;
  bool has_properties = false; // a "N bytes stack frame, ..." line was attributed to it
};

// Every function the log mentions, in first-mention order. Lines the parser
// does not recognize are ignored (ptxas prints gmem, cmem, timing lines).
// Attribution: a properties line belongs to the function of the latest
// "Function properties for X" line; "Used N registers" to the latest entry.
// A "... spilled ... in function 'X', N bytes spill stores, M bytes spill
// loads" warning (ptxas -warn-spills) is attributed to X.
std::vector<FunctionResources> parsePtxasLog(const std::string &log);

// Functions with nonzero spill stores or loads.
std::vector<FunctionResources> functionsWithSpills(const std::vector<FunctionResources> &functions);

} // namespace moec_test

#endif // MOEC_TEST_UNIT_CUDA_KERNELS_PTXASLOG_H
