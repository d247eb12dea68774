// The real US Treasury SDN list (../shared/corpus/entities, skipped when absent): the counts of a
// load are stable, every loaded name scanned as a post of its own alerts its own entity, and a
// warm start from the database cache gives the same alerts as a cold one.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "rules/compiled.h"
#include "rules/entity_list.h"
#include "support/rules.h"
#include "support/temp_dir.h"

namespace {

using namespace lodestone;
using namespace lodestone::testing;

std::string entities_dir() {
  if (const char* env = std::getenv("LODESTONE_CORPUS")) return std::string(env) + "/entities";
  return LODESTONE_SOURCE_DIR "/../shared/corpus/entities";
}

// The SDN list's file; when it is absent, the test is skipped at once.
std::string sdn_file() {
  const std::string sdn = entities_dir() + "/ofac_sdn.csv";
  if (!std::filesystem::exists(sdn)) {
    // Not a pass: exit code 4 makes ctest report this test as skipped (SKIP_RETURN_CODE).
    std::fprintf(stderr, "SKIPPED: %s is absent (the corpus lives in ../shared/corpus beside the checkout)\n",
                 sdn.c_str());
    std::exit(4);
  }
  return sdn;
}

// The rule file of the SDN list, written beside a temporary folder's cache, with absolute paths.
struct SdnFixture {
  std::string sdn = sdn_file();  // first: a skipped test makes no folder
  TempDir dir{"sdn"};
  std::string rules = dir.file("ofac.toml");

  SdnFixture() {
    std::ofstream(rules) << "[[entities]]\n"
                            "id = \"ofac_sdn\"\n"
                            "file = \"" << sdn << "\"\n"
                            "id_column = 1\nname_column = 2\nkind_column = 3\nkind = \"entity\"\nempty = \"-0-\"\n"
                            "alias_file = \"" << entities_dir() << "/ofac_alt.csv\"\n"
                            "alias_id_column = 1\nalias_name_column = 4\n"
                            "name_order = \"last_first\"\nname_order_kinds = [\"individual\"]\n"
                            "min_alias_length = 4\n"
                            "\n[[rule]]\nid = \"sdn\"\nmatch = '@ofac_sdn'\n"
                            "\n[[rule]]\nid = \"sdn-sanctions\"\nmatch = '@ofac_sdn AND sanction*'\n";
  }
};

}  // namespace

TEST_CASE("SDN: the load's counts are stable and every name alerts its own entity", "[corpus][entities]") {
  SdnFixture fx;
  LoadResult r = load_rule_set({fx.rules});
  REQUIRE_FALSE(r.diagnostics.has_errors());
  REQUIRE(r.rule_set);
  const auto& data = r.rule_set->data();
  REQUIRE(data.entity_lists.size() == 1);
  const auto& info = data.entity_lists[0];
  // As loaded from the files in ../shared/corpus/entities (15,443 SDN rows, 19,486 alias rows).
  CHECK(info.rows == 15443 + 19486);
  CHECK(info.entities == 15436);
  CHECK(info.skipped_entities == 7);
  CHECK(info.skipped_row_count() == 1109);  // aliases of ids the SDN file does not hold
  CHECK(info.names == 49106);
  CHECK(info.reordered == 15334);
  CHECK(info.aliases == 18338);
  CHECK(info.skipped_name_count() == 50);

  // Every name the list loaded, as a post of its own.
  Diagnostics diags;
  auto file = rules::read_rule_file(fx.rules, diags);
  REQUIRE(file);
  rules::EntityList list;
  REQUIRE(rules::read_entity_list(*file, file->entity_lists.at(0), list, diags));
  REQUIRE(list.entities.size() == info.entities);
  Scanner scanner(r.rule_set);
  size_t posts = 0;
  size_t missed = 0;
  for (const auto& entity : list.entities) {
    for (const auto& name : entity.names) {
      Post p = post({{"body", name.text}}, std::to_string(posts++));
      bool own = false;
      for (const Alert& a : scanner.scan(p)) {
        for (const auto& e : a.entities) own = own || (e.id == entity.id && e.list == "ofac_sdn");
      }
      if (!own && ++missed <= 20) UNSCOPED_INFO("entity " << entity.id << " name '" << name.text << "' missed");
    }
  }
  CHECK(posts == info.names);
  CHECK(missed == 0);
}

TEST_CASE("SDN: a warm start loads the cache and alerts exactly as a cold one", "[corpus][entities]") {
  SdnFixture fx;
  LoadOptions options;
  options.cache_dir = fx.dir.file("cache");
  LoadResult cold = load_rule_set({fx.rules}, options);
  REQUIRE(cold.rule_set);
  CHECK_FALSE(cold.rule_set->data().stats.from_cache);
  LoadResult warm = load_rule_set({fx.rules}, options);
  REQUIRE(warm.rule_set);
  CHECK(warm.rule_set->data().stats.from_cache);
  CHECK(warm.rule_set->data().stats.cache_problem.empty());
  CHECK(warm.rule_set->data().stats.database_bytes == cold.rule_set->data().stats.database_bytes);

  Scanner a(cold.rule_set);
  Scanner b(warm.rule_set);
  a.set_clock_override("2026-01-01T00:00:00Z");
  b.set_clock_override("2026-01-01T00:00:00Z");
  size_t alerts_seen = 0;
  for (const char* body : {"Treasury sanctions on Banco Nacional de Cuba and AL QA'IDA", "Usama bin Ladin",
                           "Aerocaribbean Airlines flights", "Rosneft Trading S.A. was sanctioned",
                           "nothing on the list here"}) {
    Post p = post({{"body", body}});
    std::string ja;
    std::string jb;
    for (const Alert& x : a.scan(p)) ja += to_json(x) + "\n";
    for (const Alert& x : b.scan(p)) jb += to_json(x) + "\n";
    CHECK(ja == jb);
    alerts_seen += !ja.empty();
  }
  CHECK(alerts_seen == 4);
}
