// GPU devices of the worker: discovery through NVML (loaded at run time), --gpu-devices and the
// exclusive device slots of the gpu pool.

#include "gpu/device_slots.hpp"
#include "gpu/nvml.hpp"

#include <gtest/gtest.h>

#include <set>

namespace {

using namespace beamline::worker;

gpu_discovery two_devices() {
  gpu_discovery found;
  found.available = true;
  found.devices = {{0, "A"}, {1, "B"}};
  return found;
}

gpu_discovery no_nvml() {
  gpu_discovery found;
  found.reason = "NVML is not loadable";
  return found;
}

TEST(GpuDiscoveryTest, MissingLibraryMeansNoDevicesAndSaysWhy) {
  const auto found = discover_gpus("/nonexistent/libnvidia-ml.so.1");
  EXPECT_FALSE(found.available);
  EXPECT_TRUE(found.devices.empty());
  EXPECT_NE(found.reason.find("not loadable"), std::string::npos) << found.reason;
}

TEST(GpuDiscoveryTest, TheRealLibraryIsProbedWithoutCrashing) {
  // Whatever this machine has: with NVML and devices they are listed with names, else a reason.
  const auto found = discover_gpus();
  if (found.devices.empty()) {
    EXPECT_FALSE(found.reason.empty());
    GTEST_SKIP() << "no GPU here: " << found.reason;
  }
  for (const auto& d : found.devices)
    EXPECT_FALSE(d.name.empty());
}

TEST(GpuSelectionTest, AutoTakesEveryDiscoveredDevice) {
  EXPECT_EQ(select_gpus("auto", two_devices()).ordinals, (std::vector<int32_t>{0, 1}));
  const auto none = select_gpus("auto", no_nvml());
  EXPECT_TRUE(none.ordinals.empty());
  EXPECT_TRUE(none.error.empty());
  EXPECT_NE(none.note.find("NVML is not loadable"), std::string::npos) << none.note;
}

TEST(GpuSelectionTest, NoneOffersNoDevice) {
  EXPECT_TRUE(select_gpus("none", two_devices()).ordinals.empty());
}

TEST(GpuSelectionTest, AnExplicitListIsValidatedAgainstNvml) {
  EXPECT_EQ(select_gpus("1", two_devices()).ordinals, (std::vector<int32_t>{1}));
  const auto missing = select_gpus("0,2", two_devices());
  EXPECT_TRUE(missing.ordinals.empty());
  EXPECT_NE(missing.error.find("device 2"), std::string::npos) << missing.error;
  EXPECT_FALSE(select_gpus("0,0", two_devices()).error.empty());
  EXPECT_FALSE(select_gpus("0,,1", two_devices()).error.empty());
  EXPECT_FALSE(select_gpus("x", two_devices()).error.empty());
}

TEST(GpuSelectionTest, WithoutNvmlAnExplicitListIsTakenAsConfigured) {
  const auto s = select_gpus("0,3", no_nvml());
  EXPECT_TRUE(s.error.empty());
  EXPECT_EQ(s.ordinals, (std::vector<int32_t>{0, 3}));
  EXPECT_NE(s.note.find("unverified"), std::string::npos) << s.note;
}

TEST(DeviceSlotsTest, OneBlockPerDeviceAndSlotsComeBack) {
  device_slots slots{{0, 1}, 1};
  EXPECT_EQ(slots.capacity(), 2u);
  {
    auto a = slots.try_acquire();
    auto b = slots.try_acquire();
    ASSERT_TRUE(a && b);
    EXPECT_NE(a->device(), b->device()); // leased exclusively
    EXPECT_FALSE(slots.try_acquire());   // every device busy
    EXPECT_EQ(slots.in_use(0), 1u);
  }
  EXPECT_EQ(slots.in_use(0), 0u); // returned after the block
  EXPECT_EQ(slots.in_use(1), 0u);
  EXPECT_TRUE(slots.try_acquire());
}

TEST(DeviceSlotsTest, SharedDevicesSpreadTheLoad) {
  device_slots slots{{4, 7}, 2};
  EXPECT_EQ(slots.capacity(), 4u);
  std::vector<device_slots::lease> held;
  std::multiset<int32_t> devices;
  for (int i = 0; i < 4; ++i) {
    auto l = slots.try_acquire();
    ASSERT_TRUE(l);
    devices.insert(l->device());
    held.push_back(std::move(*l));
  }
  EXPECT_EQ(devices.count(4), 2u);
  EXPECT_EQ(devices.count(7), 2u);
  EXPECT_FALSE(slots.try_acquire());
}

TEST(DeviceSlotsTest, NoDevicesNoSlots) {
  device_slots slots{{}, 1};
  EXPECT_EQ(slots.capacity(), 0u);
  EXPECT_FALSE(slots.try_acquire());
}

} // namespace
