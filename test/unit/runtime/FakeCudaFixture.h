// A test fixture that points libmoert at the fake CUDA driver
// (FakeCudaDriver.cpp, built as a shared object) through MOERT_LIBCUDA and
// hands the test its recorded state, reset before every test.
#ifndef MOEC_TEST_UNIT_RUNTIME_FAKECUDAFIXTURE_H
#define MOEC_TEST_UNIT_RUNTIME_FAKECUDAFIXTURE_H

#include "test/unit/runtime/FakeCudaDriver.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <dlfcn.h>

namespace moert::test {

class FakeCudaTest : public ::testing::Test {
protected:
  void SetUp() override {
    void *handle = dlopen(MOERT_FAKE_CUDA_PATH, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle, nullptr) << dlerror();
    using StateFn = FakeCudaState *(*)();
    auto stateFn = reinterpret_cast<StateFn>(dlsym(handle, "fake_cuda_state"));
    ASSERT_NE(stateFn, nullptr);
    fake = stateFn();
    fake->reset();
    setenv("MOERT_LIBCUDA", MOERT_FAKE_CUDA_PATH, 1);
  }
  void TearDown() override { unsetenv("MOERT_LIBCUDA"); }

  FakeCudaState *fake = nullptr;
};

} // namespace moert::test

#endif // MOEC_TEST_UNIT_RUNTIME_FAKECUDAFIXTURE_H
