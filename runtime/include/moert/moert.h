/*===- moert.h - The moec runtime C API ------------------------*- C -*-===//
 *
 * libmoert loads a moec artifact (.moe), verifies it, and runs it.
 *
 *   moert_model    an immutable, verified artifact (weights, step list,
 *                  kernel binary). Thread-safe to share.
 *   moert_session  what one caller needs to run a model: the loaded kernel
 *                  code, the activation arena sized for `max_tokens`, and the
 *                  per-step argument tables (for CUDA artifacts: the
 *                  device, module, weights and staging buffers). All
 *                  allocation happens in moert_session_create;
 *                  moert_session_run allocates nothing (except a CUDA
 *                  graph's first capture at a new token count).
 *                  One run at a time per session; use one session per thread.
 *
 * Errors are values: every function that can fail returns a moert_status,
 * which is NULL on success and otherwise owns a code and a one-line message
 * that the caller frees with moert_status_free. Nothing in the library
 * aborts, exits, or lets a C++ exception escape.
 *
 * Shapes: a model has at most one symbolic dimension, the token count T.
 * In the signature it appears as -1; every -1 equals T exactly.
 *===----------------------------------------------------------------------===*/

#ifndef MOERT_MOERT_H
#define MOERT_MOERT_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define MOERT_API __attribute__((visibility("default")))
#else
#define MOERT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*===-------------------------------- status -----------------------------===*/

typedef enum moert_status_code_t {
  MOERT_OK = 0,
  /* The caller passed something wrong: a NULL pointer, a tensor of the wrong
   * shape or dtype, a buffer that is too small. */
  MOERT_INVALID_ARGUMENT = 1,
  /* A file, input name or kernel symbol does not exist. */
  MOERT_NOT_FOUND = 2,
  /* The artifact is corrupt or inconsistent (bad header, checksum, structure,
   * or an index/offset that points outside what it should). */
  MOERT_DATA_LOSS = 3,
  /* The request is valid in general but not in this state (e.g. the token
   * count of a run exceeds the session's max_tokens). */
  MOERT_FAILED_PRECONDITION = 4,
  /* The artifact needs something this runtime does not have (a newer schema,
   * a non-host target, an unknown binary format). */
  MOERT_UNIMPLEMENTED = 5,
  /* Out of memory, or a size that does not fit the address space. */
  MOERT_RESOURCE_EXHAUSTED = 6,
  /* A system call failed, or a kernel reported a runtime error. */
  MOERT_INTERNAL = 7,
} moert_status_code_t;

/* NULL means OK. A non-NULL status must be freed with moert_status_free. */
typedef struct moert_status_impl *moert_status;

/* MOERT_OK for NULL. */
MOERT_API moert_status_code_t moert_status_code(moert_status status);
/* "OK" for NULL; otherwise the one-line message, valid until freed. */
MOERT_API const char *moert_status_message(moert_status status);
/* "OK", "INVALID_ARGUMENT", ... */
MOERT_API const char *moert_status_code_name(moert_status_code_t code);
/* Accepts NULL. */
MOERT_API void moert_status_free(moert_status status);

/*===-------------------------------- dtypes -----------------------------===*/

/* Values equal those of moert.fb.DType in the artifact schema. */
typedef enum moert_dtype_t {
  MOERT_DTYPE_F32 = 0,
  MOERT_DTYPE_F16 = 1,
  MOERT_DTYPE_BF16 = 2,
  MOERT_DTYPE_F64 = 3,
  MOERT_DTYPE_I64 = 4,
  MOERT_DTYPE_I32 = 5,
  MOERT_DTYPE_I8 = 6,
  MOERT_DTYPE_U8 = 7,
  MOERT_DTYPE_BOOL = 8, /* one byte per element, 0 or 1 */
} moert_dtype_t;

/* Bytes per element; 0 for a value outside the enum. */
MOERT_API size_t moert_dtype_size(moert_dtype_t dtype);
/* "float32", "float16", "bfloat16", "float64", "int64", "int32", "int8",
 * "uint8", "bool"; "invalid" for a value outside the enum. */
MOERT_API const char *moert_dtype_name(moert_dtype_t dtype);

/* A tensor passed to or from a run. Dense, row-major (C order). */
typedef struct moert_tensor_t {
  void *data;          /* may be NULL only when byte_size is 0 */
  moert_dtype_t dtype;
  int32_t rank;
  const int64_t *dims; /* `rank` entries; may be NULL when rank is 0 */
  size_t byte_size;    /* bytes available at `data` */
} moert_tensor_t;

/* A graph input or output as the model declares it. dims[i] == -1 is the
 * token dimension T. Pointers stay valid while the model is alive. */
typedef struct moert_tensor_info_t {
  const char *name;
  moert_dtype_t dtype;
  int32_t rank;
  const int64_t *dims;
} moert_tensor_info_t;

/*===-------------------------------- model ------------------------------===*/

typedef struct moert_model_impl moert_model_t;

/* Loads and verifies `path` (memory-mapped when possible). Error messages
 * start with `path`. */
MOERT_API moert_status moert_model_load_file(const char *path,
                                             moert_model_t **out_model);

typedef enum moert_buffer_mode_t {
  /* Copy the bytes; the caller may free its buffer as soon as the call
   * returns. */
  MOERT_BUFFER_COPY = 0,
  /* Use the caller's bytes in place; the buffer must stay alive and
   * unchanged until the model and all its sessions are released. If the
   * buffer is not 64-byte aligned the bytes are copied anyway (kernels and
   * FlatBuffers need aligned data). */
  MOERT_BUFFER_BORROW = 1,
} moert_buffer_mode_t;

/* Loads and verifies a complete .moe file image held in memory. `name`
 * (may be NULL: "<buffer>") is used in error messages. */
MOERT_API moert_status moert_model_load_buffer(const void *data, size_t size,
                                               const char *name,
                                               moert_buffer_mode_t mode,
                                               moert_model_t **out_model);

/* Accepts NULL. Sessions created from the model keep it alive. */
MOERT_API void moert_model_release(moert_model_t *model);

/* The path or buffer name the model was loaded from (used in messages). */
MOERT_API const char *moert_model_name(const moert_model_t *model);
/* Strings recorded by the compiler ("" when absent). */
MOERT_API const char *moert_model_target(const moert_model_t *model);
MOERT_API const char *moert_model_producer(const moert_model_t *model);
MOERT_API const char *moert_model_source(const moert_model_t *model);

MOERT_API size_t moert_model_input_count(const moert_model_t *model);
MOERT_API size_t moert_model_output_count(const moert_model_t *model);
MOERT_API moert_status moert_model_input_info(const moert_model_t *model,
                                              size_t index,
                                              moert_tensor_info_t *out_info);
MOERT_API moert_status moert_model_output_info(const moert_model_t *model,
                                               size_t index,
                                               moert_tensor_info_t *out_info);
/* Position of the input/output called `name`; MOERT_NOT_FOUND if none. */
MOERT_API moert_status moert_model_find_input(const moert_model_t *model,
                                              const char *name,
                                              size_t *out_index);
MOERT_API moert_status moert_model_find_output(const moert_model_t *model,
                                               const char *name,
                                               size_t *out_index);
/* The input whose buffer output `index` may share (*out_input_index), or -1.
 * Passing the same pointer for both (a KV cache updated in place) saves a
 * buffer and the copy of what does not change; the compiler declares it only
 * where that is safe. Any other overlap between buffers of a run is refused. */
MOERT_API moert_status moert_model_output_inplace_input(const moert_model_t *model,
                                                        size_t index,
                                                        int64_t *out_input_index);

MOERT_API size_t moert_model_weight_count(const moert_model_t *model);
/* Sum of the weights' sizes in bytes. */
MOERT_API uint64_t moert_model_weight_bytes(const moert_model_t *model);

/* One weight as the artifact stores it: in the layout and dtype the kernels
 * read (e.g. bfloat16 for a GPU artifact compiled with --precision bf16),
 * so byte_size is what a run reads when it reads the whole weight. Tools
 * use it to count the bytes a run moves (moec-bench: the per-expert
 * tensors, whose dims[0] is the expert count). Pointers stay valid while
 * the model is alive. */
typedef struct moert_weight_info_t {
  const char *name;
  moert_dtype_t dtype;
  int32_t rank;
  const int64_t *dims; /* `rank` entries, all >= 0 */
  uint64_t byte_size;
} moert_weight_info_t;

/* MOERT_INVALID_ARGUMENT if `index` >= moert_model_weight_count. */
MOERT_API moert_status moert_model_weight_info(const moert_model_t *model,
                                               size_t index,
                                               moert_weight_info_t *out_info);
MOERT_API size_t moert_model_kernel_count(const moert_model_t *model);
MOERT_API size_t moert_model_step_count(const moert_model_t *model);
/* Arena bytes needed for T tokens = base + per_token * T. */
MOERT_API void moert_model_arena_size(const moert_model_t *model,
                                      int64_t *out_base,
                                      int64_t *out_per_token);

/*===------------------------------- session -----------------------------===*/

typedef struct moert_session_options_t {
  /* Largest token count a run may use; sizes the arena (and, for CUDA
   * artifacts, the device staging buffers). Default 4096. */
  int64_t max_tokens;
  /* CUDA artifacts: the device ordinal, as cuDeviceGet counts them
   * (CUDA_VISIBLE_DEVICES applies). Default 0. Ignored for host artifacts. */
  int32_t cuda_device;
  /* CUDA artifacts: nonzero (default 1) to capture the step sequence as a
   * CUDA graph on the first run at each token count T and replay it on later
   * runs at that T (the 16 most recently used T are kept); 0 launches every
   * step on every run. Ignored for host artifacts. */
  int32_t cuda_graphs;
} moert_session_options_t;

MOERT_API void moert_session_options_initialize(
    moert_session_options_t *options);

typedef struct moert_session_impl moert_session_t;

/* Loads the kernel code, resolves every kernel symbol and allocates the
 * arena. `options` may be NULL (defaults).
 *
 * Host artifacts ("host") run on the CPU. CUDA artifacts ("sm_80", "sm_86",
 * "sm_89", "sm_90a") load the NVIDIA driver at this point with
 * dlopen("libcuda.so.1") (the environment variable MOERT_LIBCUDA, when set,
 * names another file to load instead), check that the GPU can run the
 * cubin, load it, upload the weights once and allocate all device memory
 * for max_tokens. No driver, no GPU or an incompatible GPU give
 * MOERT_FAILED_PRECONDITION; too little device memory gives
 * MOERT_RESOURCE_EXHAUSTED with the bytes needed and free. */
MOERT_API moert_status moert_session_create(
    moert_model_t *model, const moert_session_options_t *options,
    moert_session_t **out_session);

/* Accepts NULL. */
MOERT_API void moert_session_release(moert_session_t *session);

MOERT_API int64_t moert_session_max_tokens(const moert_session_t *session);

/* Shape of output `index` for `tokens` tokens: writes the rank to
 * `*out_rank` and, when it fits, the dims to `dims[0, capacity)`.
 * MOERT_INVALID_ARGUMENT if `capacity` is smaller than the rank. */
MOERT_API moert_status moert_session_output_dims(
    const moert_session_t *session, size_t index, int64_t tokens,
    int64_t *dims, int32_t capacity, int32_t *out_rank);

/* Bytes output `index` takes for `tokens` tokens. */
MOERT_API moert_status moert_session_output_byte_size(
    const moert_session_t *session, size_t index, int64_t tokens,
    size_t *out_bytes);

/* Runs the model. Inputs and outputs are host memory for every target (a
 * CUDA session copies them to and from its device buffers and returns once
 * the outputs are in place). inputs[i] is the model's i-th input (see
 * moert_model_find_input to go from a name to a position), outputs[j] its
 * j-th output. Inputs are checked (dtype, rank, static dims, byte_size) and
 * their token dims must agree; that value is T (0 <= T <= max_tokens).
 * Outputs must carry the dtype, rank and dims that moert_session_output_dims
 * reports for T and at least that many bytes. Kernels read inputs and never
 * write them; no two buffers may overlap, except an output and the input it
 * declares in place (moert_model_output_inplace_input), which must then be
 * the same buffer. Allocates nothing on the host; a CUDA session's first run at a
 * new T captures and instantiates a graph (driver allocations), later runs
 * at that T allocate nothing. A kernel that finds bad data (e.g. an index
 * out of range) stops the run with MOERT_INTERNAL naming the step and its
 * kernel; the outputs are then undefined. */
MOERT_API moert_status moert_session_run(moert_session_t *session,
                                         const moert_tensor_t *inputs,
                                         size_t input_count,
                                         moert_tensor_t *outputs,
                                         size_t output_count);

/*===-------------------------------- timing -----------------------------===*/

/* Where the times of moert_run_timing_t come from. */
typedef enum moert_clock_t {
  /* Host artifacts: the host's monotonic clock (std::chrono::steady_clock)
   * read around the work of the run on the calling thread. */
  MOERT_CLOCK_HOST_MONOTONIC = 0,
  /* CUDA artifacts: CUDA events recorded on the session's stream, read with
   * cuEventElapsedTime (resolution about 0.5 microseconds). Device time:
   * host-side overhead appears only where the GPU waited for the host. */
  MOERT_CLOCK_CUDA_EVENTS = 1,
} moert_clock_t;

/* The times of one run, in milliseconds. */
typedef struct moert_run_timing_t {
  int64_t tokens;      /* T of the run */
  moert_clock_t clock; /* what measured the two times below */
  /* The steps only: for a CUDA session from just before the graph launch
   * (or the first kernel launch when graphs are off) to just after the last
   * kernel; for a host session the calls of the step kernels. */
  double steps_ms;
  /* The whole run: for a CUDA session also the copies of the inputs to the
   * device and of the outputs back (pageable host memory); for a host
   * session equal to steps_ms plus the argument setup (nanoseconds). */
  double total_ms;
} moert_run_timing_t;

/* Benchmark support. With `enable` nonzero every later successful run of
 * the session records its times, read with moert_session_last_run_timing;
 * 0 stops recording. For a CUDA session the first enable creates the four
 * events timing needs (so runs still allocate nothing); they live as long
 * as the session. Recording costs four cuEventRecord calls per run (CUDA)
 * or two clock reads (host). Events are recorded outside the captured CUDA
 * graph, never inside it. */
MOERT_API moert_status moert_session_enable_timing(moert_session_t *session,
                                                   int32_t enable);

/* The times of the last run. MOERT_FAILED_PRECONDITION when timing is not
 * enabled, or no run succeeded since it was enabled or since the last
 * failed run (a failed run leaves no times behind). */
MOERT_API moert_status moert_session_last_run_timing(
    const moert_session_t *session, moert_run_timing_t *out_timing);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MOERT_MOERT_H */
