// Test support: a real Store (SQLite) in a TempDir of its own, for tests that need durable state.
// Share the Store inside as Store allows; make and destroy the TempStore on the test's thread.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "support/temp_dir.h"
#include "watch/store.h"

namespace lodestone::testing {

// A Store on `dir`/state.db, failing the test (with the reason) when it cannot open.
inline std::unique_ptr<Store> open_store(const TempDir& dir) {
  auto store = Store::open(dir.file("state.db"));
  INFO(store.error());
  REQUIRE(store);
  return std::move(*store);
}

// A Store on a fresh folder, closed before the folder is removed (members go in reverse order).
class TempStore {
 public:
  TempStore() : dir_("store"), store_(open_store(dir_)) {}
  TempStore(const TempStore&) = delete;
  TempStore& operator=(const TempStore&) = delete;

  Store& operator*() { return *store_; }
  Store* operator->() { return store_.get(); }

 private:
  TempDir dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace lodestone::testing
