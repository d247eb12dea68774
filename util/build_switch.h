// What the source and notifier registries share: LODESTONE_LIST_IF_BUILT(flag, item) is `item,`
// when the configure-time switch `flag` is defined as 1, and nothing when it is 0, so a registry
// lists one line per kind and a kind switched off (its folder not compiled) drops out; and the
// lookup of a kind by its type. Any thread.
#pragma once

#include <span>
#include <string_view>

#define LODESTONE_LIST_IF_BUILT(flag, item) LODESTONE_LIST_IF_BUILT_(flag, item)
#define LODESTONE_LIST_IF_BUILT_(flag, item) LODESTONE_LIST_IF_BUILT_##flag(item)
#define LODESTONE_LIST_IF_BUILT_1(item) item,
#define LODESTONE_LIST_IF_BUILT_0(item)

namespace lodestone {

// The kind whose `type` is `type` exactly (case counts), or null.
template <typename Kind>
const Kind* find_kind(std::span<const Kind* const> kinds, std::string_view type) {
  for (const Kind* kind : kinds) {
    if (type == kind->type) return kind;
  }
  return nullptr;
}

}  // namespace lodestone
