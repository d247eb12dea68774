// Build switches in lists: LODESTONE_LIST_IF_BUILT(flag, item) is `item,` when the configure-time
// switch `flag` is defined as 1, and nothing when it is 0, so a registry lists one line per kind
// and a kind switched off (its folder not compiled) drops out. Preprocessor only.
#pragma once

#define LODESTONE_LIST_IF_BUILT(flag, item) LODESTONE_LIST_IF_BUILT_(flag, item)
#define LODESTONE_LIST_IF_BUILT_(flag, item) LODESTONE_LIST_IF_BUILT_##flag(item)
#define LODESTONE_LIST_IF_BUILT_1(item) item,
#define LODESTONE_LIST_IF_BUILT_0(item)
