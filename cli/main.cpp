// lodestone: the one binary. Thin: parses the command line and calls a command.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.h"

int main(int argc, char** argv) {
  using namespace lodestone::cli;
  std::ios::sync_with_stdio(false);  // posts may come on stdin by the million
  CLI::App app{"Lodestone: keyword and entity alerting over streams of posts"};
  app.set_version_flag("--version", std::string("lodestone ") + LODESTONE_VERSION);
  app.require_subcommand(1);

  CheckOptions check;
  CLI::App* check_cmd =
      app.add_subcommand("check", "Load and compile rules, run every [rule.tests]; exit 0 ok, 1 errors");
  add_rule_options(*check_cmd, check);
  check_cmd->add_option("rules", check.rules, "rule files, directories or globs");
  check_cmd->add_flag("--strict", check.strict, "fail (exit 1) on warnings too: unknown fields, lowercase and, ...");

  ScanOptions scan;
  CLI::App* scan_cmd =
      app.add_subcommand("scan",
                         "Match posts from JSONL or text files (or - for stdin); print alerts as JSONL.\n"
                         "Exit 0 when some alert was raised, 1 when none, 2 on error (as grep)");
  add_rule_options(*scan_cmd, scan);
  scan_cmd->add_option("-r,--rules", scan.rules, "rule file, directory or glob (repeat -r for more)")
      ->allow_extra_args(false);
  scan_cmd->add_option("inputs", scan.inputs, "JSONL files (.jsonl, .ndjson, .json), text files, directories, or -");
  scan_cmd->add_option("--format", scan.format, "json (one alert a line) or text (one readable line an alert)")
      ->check(CLI::IsMember({"json", "text"}));
  scan_cmd->add_option("--color", scan.color, "highlight matches in text format: auto, always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  scan_cmd->add_option("--source", scan.source, "source of posts that name none (default: the file's path)");
  scan_cmd->add_option("--max-text-bytes", scan.max_text_bytes, "text per post beyond which it is cut (default 1 MiB)");
  scan_cmd->add_option("--now", scan.now, "a fixed matched_at for every alert, for reproducible output");
  scan_cmd->add_option("-j,--workers", scan.workers,
                       "threads matching posts (default 0: one per core); the output is in input order either way");

  WatchOptions watch;
  CLI::App* watch_cmd = app.add_subcommand(
      "watch",
      "Run the watcher: sources -> rules -> store -> notifiers. Reloads rules on change or SIGHUP;\n"
      "SIGTERM or SIGINT drains and exits, leaving what is undelivered in the store");
  add_rule_options(*watch_cmd, watch);  // -c defaults to ./lodestone.toml

  NotifyTestOptions notify_test;
  CLI::App* notify_test_cmd =
      app.add_subcommand("notify-test", "Send a sample alert through one notifier of the config and print the outcome");
  notify_test_cmd->add_option("notifier", notify_test.notifier, "the notifier's name in the config")->required();
  notify_test_cmd->add_option("-c,--config", notify_test.config, "lodestone.toml")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (check_cmd->parsed()) return run_check(check);
  if (watch_cmd->parsed()) return run_watch(watch);
  if (notify_test_cmd->parsed()) return run_notify_test(notify_test);
  if (scan_cmd->parsed()) {
    if (scan.config.empty() && scan.rules.empty()) {
      std::cerr << "lodestone scan: name the rules with -c CONFIG or -r RULES\n";
      return 2;
    }
    return run_scan(scan);
  }
  return 2;
}
