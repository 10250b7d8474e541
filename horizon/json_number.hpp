#pragma once
// Whole numbers read from JSON files we wrote ourselves (last good data, serials). nlohmann's get<T>()
// casts a float such as 1e80 straight to T, which is undefined behaviour for an integer type (C++20
// [conv.fpint]); a hand-edited or damaged file must be refused with a reason instead.
#include <limits>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace phoenix::horizon {

template <typename T>
T json_whole_number(const nlohmann::json& value, const std::string& what) {
  static_assert(std::is_integral_v<T>);
  bool ok = false;
  if (value.is_number_unsigned()) {
    ok = value.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
  } else if (value.is_number_integer()) {
    auto v = value.get<int64_t>();
    ok = std::is_signed_v<T> ? v >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                                   v <= static_cast<int64_t>(std::numeric_limits<T>::max())
                             : v >= 0 && static_cast<uint64_t>(v) <= std::numeric_limits<T>::max();
  }
  if (!ok)
    throw std::runtime_error(what + ": " + value.dump() + " is not a whole number 0.." +
                             std::to_string(std::numeric_limits<T>::max()));
  return value.is_number_unsigned() ? static_cast<T>(value.get<uint64_t>()) : static_cast<T>(value.get<int64_t>());
}

}  // namespace phoenix::horizon
