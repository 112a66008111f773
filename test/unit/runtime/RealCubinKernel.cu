// A real kernel with the moec GPU ABI, compiled by nvcc to a cubin at build
// time (when the CUDA toolkit is installed) so the loader's cubin checks are
// tested on a genuine image, not only on the fake one.
struct moec_cuda_args {
  void *ptr[24];
  long long tokens;
};

extern "C" __global__ void moec_test_add_weight(moec_cuda_args args) {
  const float *x = static_cast<const float *>(args.ptr[0]);
  const float *w = static_cast<const float *>(args.ptr[1]);
  float *y = static_cast<float *>(args.ptr[2]);
  long long count = args.tokens * 16;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
       i < count; i += (long long)gridDim.x * blockDim.x)
    y[i] = x[i] + w[i % 16];
}
