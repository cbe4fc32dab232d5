#pragma once

// Exclusive leases of GPU device slots. Each device offers `per_device` slots (1 by default:
// one block per device at a time); a block on the gpu pool holds one slot for as long as it
// runs and returns it when its lease is destroyed. The gpu pool has exactly capacity() runners,
// each holding at most one lease, so a runner always finds a free slot.

#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace beamline::worker {

class device_slots {
public:
  device_slots(std::vector<int32_t> devices, uint32_t per_device)
    : devices_(std::move(devices)), per_device_(per_device), used_(devices_.size(), 0) {}
  device_slots(const device_slots&) = delete;
  device_slots& operator=(const device_slots&) = delete;

  /// A held slot on one device; movable, returns the slot when destroyed.
  class lease {
  public:
    lease(lease&& other) noexcept : owner_(other.owner_), index_(other.index_) {
      other.owner_ = nullptr;
    }
    lease& operator=(lease&&) = delete;
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease() {
      if (owner_ != nullptr)
        owner_->release(index_);
    }
    /// The device ordinal to hand to the block.
    [[nodiscard]] int32_t device() const noexcept { return owner_->devices_[index_]; }

  private:
    friend class device_slots;
    lease(device_slots* owner, size_t index) noexcept : owner_(owner), index_(index) {}
    device_slots* owner_;
    size_t index_;
  };

  /// A slot on the least used device, or nothing when every slot is leased.
  [[nodiscard]] std::optional<lease> try_acquire() {
    std::lock_guard<std::mutex> guard{mutex_};
    size_t best = devices_.size();
    for (size_t i = 0; i < devices_.size(); ++i)
      if (used_[i] < per_device_ && (best == devices_.size() || used_[i] < used_[best]))
        best = i;
    if (best == devices_.size())
      return std::nullopt;
    ++used_[best];
    return lease{this, best};
  }

  [[nodiscard]] uint32_t capacity() const noexcept {
    return static_cast<uint32_t>(devices_.size()) * per_device_;
  }
  [[nodiscard]] const std::vector<int32_t>& devices() const noexcept { return devices_; }
  /// Slots leased on `device` now (a snapshot); 0 for a device not offered.
  [[nodiscard]] uint32_t in_use(int32_t device) const {
    std::lock_guard<std::mutex> guard{mutex_};
    for (size_t i = 0; i < devices_.size(); ++i)
      if (devices_[i] == device)
        return used_[i];
    return 0;
  }

private:
  void release(size_t index) noexcept {
    std::lock_guard<std::mutex> guard{mutex_};
    --used_[index];
  }

  const std::vector<int32_t> devices_;
  const uint32_t per_device_;
  mutable std::mutex mutex_;
  std::vector<uint32_t> used_;
};

} // namespace beamline::worker
