// Checking [[source]] and [[notifier]] tables against their kinds' declared options.
#include "watch/options.h"

#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace lodestone {

std::string OptionValues::string(const std::string& key, std::string fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second.text;
}
double OptionValues::number(const std::string& key, double fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second.number;
}
int64_t OptionValues::integer(const std::string& key, int64_t fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : static_cast<int64_t>(it->second.number);
}
bool OptionValues::boolean(const std::string& key, bool fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second.number != 0;
}
std::vector<std::string> OptionValues::strings(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::vector<std::string>{} : it->second.list;
}
std::vector<std::pair<std::string, std::string>> OptionValues::headers(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::vector<std::pair<std::string, std::string>>{} : it->second.pairs;
}
SourcePlace OptionValues::place(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? table_place : it->second.place;
}

std::optional<double> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string s(text);
  char* end = nullptr;
  const double value = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(value) || value < 0) return std::nullopt;
  const std::string unit(end);
  if (unit.empty() || unit == "s") return value;
  if (unit == "ms") return value / 1000;
  if (unit == "m") return value * 60;
  if (unit == "h") return value * 3600;
  if (unit == "d") return value * 86400;
  return std::nullopt;
}

std::string duration_text(double seconds) {
  struct Unit {
    double seconds;
    const char* suffix;
  };
  for (const Unit u : {Unit{86400, "d"}, Unit{3600, "h"}, Unit{60, "m"}}) {
    if (seconds >= u.seconds && std::fmod(seconds, u.seconds) == 0) return number_text(seconds / u.seconds) + u.suffix;
  }
  return number_text(seconds) + "s";
}

std::string integer_text(int64_t n) { return std::to_string(n); }

std::string number_text(double n) {
  std::ostringstream s;
  s << n;  // the shortest form that reads back: 0.1, 2, 1e+06 for very large ones
  return s.str();
}

std::string strings_text(const std::vector<std::string>& list) {
  std::string out = "[";
  for (const std::string& item : list) out += (out.size() > 1 ? ", \"" : "\"") + item + "\"";
  return out + "]";
}

Result<std::string> expand_env(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 2;
      continue;
    }
    if (text.compare(i, 2, "${") == 0) {
      const size_t close = text.find('}', i + 2);
      if (close != std::string_view::npos) {
        const std::string name(text.substr(i + 2, close - i - 2));
        const char* value = std::getenv(name.c_str());
        if (!value) return Failure{"${" + name + "}, which is not set in the environment"};
        out += value;
        i = close;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

Result<std::string> read_secret_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return Failure{"cannot read secret file " + path};
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    return Failure{"secret file " + path + " may be read by others; run: chmod 600 " + path};
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (!in.good() && !in.eof()) return Failure{"cannot read secret file " + path};
  std::string out = buffer.str();
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

namespace {

bool expand(const rules::TomlSource& file, Diagnostics& diags, const SourcePlace& place, const std::string& key,
            const std::string& raw, std::string& out) {
  Result<std::string> expanded = expand_env(raw);
  if (expanded) {
    out = std::move(*expanded);
    return true;
  }
  file.error(diags, "unset-env", place, key + " uses " + expanded.error());
  return false;
}

}  // namespace

bool read_options(const rules::TomlSource& file, Diagnostics& diags, const toml::table& table, const std::string& what,
                  std::span<const OptionSpec> specs, const std::vector<std::string>& common, OptionValues& out) {
  const size_t errors_before = diags.error_count();
  std::vector<std::string> known = common;
  for (const auto& spec : specs) {
    known.push_back(spec.key);
    if (spec.type == OptionType::kSecret) known.push_back(std::string(spec.key) + "_file");
  }
  rules::TableReader reader(file, diags, table, what, known);
  out.table_place = rules::place_of(table.source(), file.path);

  for (const auto& spec : specs) {
    const std::string key = spec.key;
    const toml::node* node = table.get(key);
    OptionValues::Value value;
    if (spec.type == OptionType::kSecret) {
      const std::string file_key = key + "_file";
      const toml::node* file_node = table.get(file_key);
      if (node && file_node) {
        file.error(diags, "bad-value", rules::place_of(file_node->source(), file.path),
                   "give " + key + " or " + file_key + ", not both");
        continue;
      }
      if (file_node) {
        value.place = rules::place_of(file_node->source(), file.path);
        if (!file_node->is_string()) {
          reader.type_error(*file_node, file_key, "a path");
          continue;
        }
        std::string path;
        if (!expand(file, diags, value.place, file_key, *file_node->value<std::string>(), path)) continue;
        const std::filesystem::path p(path);
        const auto base = std::filesystem::path(file.path).parent_path();
        if (p.is_relative() && !base.empty()) path = (base / p).string();
        Result<std::string> secret = read_secret_file(path);
        if (!secret) {
          file.error(diags, "secret-file", value.place, secret.error());
          continue;
        }
        value.text = std::move(*secret);
        out.values_[key] = std::move(value);
        continue;
      }
    }
    if (!node) {
      if (spec.required) {
        file.error(diags, "missing-key", out.table_place,
                   what + " needs '" + key + "'" + (spec.type == OptionType::kSecret ? " (or " + key + "_file)" : ""));
      }
      continue;
    }
    value.place = rules::place_of(node->source(), file.path);
    switch (spec.type) {
      case OptionType::kString:
      case OptionType::kSecret: {
        if (!node->is_string()) {
          reader.type_error(*node, key, "a string");
          continue;
        }
        const std::string raw = *node->value<std::string>();
        if (!expand(file, diags, value.place, key, raw, value.text)) continue;
        if (spec.type == OptionType::kSecret && raw.find("${") == std::string::npos && !raw.empty()) {
          // A secret written into the file works, but the file is then a secret too.
          // Not file.warning(): that would quote the line, and with it the secret.
          diags.warning("inline-secret", value.place,
                        key + " is written in the config; prefer " + key + " = \"${ENV_VAR}\" or " + key + "_file");
        }
        break;
      }
      case OptionType::kNumber:
      case OptionType::kInteger:
      case OptionType::kCount:
        if (spec.type == OptionType::kCount && node->is_integer() && *node->value<int64_t>() <= 0) {
          file.error(diags, "bad-value", value.place,
                     "'" + key + "' must be an integer above 0, not " + std::to_string(*node->value<int64_t>()));
          continue;
        }
        if (node->is_integer()) {
          value.number = static_cast<double>(*node->value<int64_t>());
        } else if (node->is_floating_point() && spec.type == OptionType::kNumber) {
          value.number = *node->value<double>();
        } else {
          reader.type_error(*node, key,
                            spec.type == OptionType::kNumber    ? "a number"
                            : spec.type == OptionType::kInteger ? "an integer"
                                                                : "an integer above 0");
          continue;
        }
        break;
      case OptionType::kDuration: {
        std::optional<double> seconds;
        if (node->is_integer() || node->is_floating_point()) {
          seconds = *node->value<double>();
          if (*seconds < 0) seconds.reset();
        } else if (node->is_string()) {
          seconds = parse_duration(*node->value<std::string>());
        }
        if (!seconds) {
          reader.type_error(*node, key, "a duration (seconds, or \"30s\", \"5m\", \"2h\", \"1d\")");
          continue;
        }
        value.number = *seconds;
        break;
      }
      case OptionType::kBool:
        if (!node->is_boolean()) {
          reader.type_error(*node, key, "true or false");
          continue;
        }
        value.number = *node->value<bool>() ? 1 : 0;
        break;
      case OptionType::kStrings: {
        std::vector<rules::Located> items;
        if (!reader.strings(key.c_str(), items, true)) continue;
        bool ok = true;
        for (const auto& item : items) {
          std::string expanded;
          ok = expand(file, diags, item.place, key, item.value, expanded) && ok;
          value.list.push_back(std::move(expanded));
        }
        if (!ok) continue;
        break;
      }
      case OptionType::kHeaders: {
        const toml::table* t = node->as_table();
        if (!t) {
          reader.type_error(*node, key, "a table of names to strings");
          continue;
        }
        bool ok = true;
        for (const auto& [name, v] : *t) {
          if (!v.is_string()) {
            reader.type_error(v, key + "." + std::string(name.str()), "a string");
            ok = false;
            continue;
          }
          std::string expanded;
          ok = expand(file, diags, rules::place_of(v.source(), file.path), key, *v.value<std::string>(), expanded) && ok;
          value.pairs.emplace_back(std::string(name.str()), std::move(expanded));
        }
        if (!ok) continue;
        break;
      }
    }
    out.values_[key] = std::move(value);
  }
  return diags.error_count() == errors_before;
}

}  // namespace lodestone
