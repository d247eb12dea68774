// lodestone watch: the daemon. Sources → pipeline → store → one dispatcher per notifier, an admin
// HTTP endpoint, rule reload on file change or SIGHUP, and a draining shutdown on SIGTERM/SIGINT.
// lodestone notify-test: one sample alert through one notifier.
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <random>
#include <set>
#include <thread>

#include "cli/commands.h"
#include "cli/config.h"
#include "util/clock.h"
#include "watch/admin.h"
#include "watch/dispatcher.h"
#include "watch/log.h"
#include "watch/metrics.h"
#include "watch/pipeline.h"
#include "engine/rule_tests.h"
#include "sources/registry.h"
#include "watch/store.h"
#include "notifiers/registry.h"

namespace lodestone::cli {
namespace {

// Loads the rules for the watcher: every diagnostic is logged; a set with errors, unknown
// notifiers or failing [rule.tests] is refused (null), so a reload can keep the old set.
std::shared_ptr<const RuleSet> load_watch_rules(const std::vector<std::string>& paths, const LoadOptions& load,
                                                const std::vector<std::string>& notifiers, std::string& why) {
  LoadResult result = load_rule_set(paths, load);
  release_freed_memory();
  if (result.rule_set) check_rule_notifiers(*result.rule_set, notifiers, result.diagnostics);
  for (const auto& d : result.diagnostics.items()) {
    const std::string text = format_diagnostic(d);
    if (d.severity == Severity::kError) {
      spdlog::error("{}", text);
    } else {
      spdlog::warn("{}", text);
    }
  }
  if (result.diagnostics.has_errors()) {
    const size_t n = result.diagnostics.error_count();
    why = std::to_string(n) + " error" + (n == 1 ? "" : "s") + " in the rules; first: " + [&] {
      for (const auto& d : result.diagnostics.items()) {
        if (d.severity == Severity::kError) {
          return d.place.file + ":" + std::to_string(d.place.line) + ":" + std::to_string(d.place.column) + ": " +
                 d.message;
        }
      }
      return std::string();
    }();
    return nullptr;
  }
  RuleTestReport report = run_rule_tests(result.rule_set);
  if (report.failed) {
    for (const auto& d : report.failures.items()) spdlog::error("{}", format_diagnostic(d));
    why = std::to_string(report.failed) + " rule test" + (report.failed == 1 ? "" : "s") + " failed";
    return nullptr;
  }
  return result.rule_set;
}

// The folders whose changes may change the rules: those of the rule paths and globs, and of the
// entity lists the current set read. A change to a .toml file there, or to a list file, reloads.
class RuleWatcher {
 public:
  RuleWatcher() : fd_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {}
  ~RuleWatcher() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

  void watch(const std::vector<std::string>& paths, const RuleSet* rules) {
    if (fd_ < 0) return;
    auto add_dir = [&](const std::filesystem::path& dir) {
      const std::string d = dir.empty() ? "." : dir.string();
      if (dirs_.count(d)) return;
      const int wd =
          inotify_add_watch(fd_, d.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM);
      if (wd >= 0) {
        dirs_[d] = wd;
        by_wd_[wd] = d;
      }
    };
    for (const auto& p : paths) {
      std::error_code ec;
      const std::filesystem::path path(p);
      if (std::filesystem::is_directory(path, ec)) {
        add_dir(path);
      } else {
        add_dir(path.parent_path());
      }
    }
    if (rules) {
      for (const auto& file : rules->files()) add_dir(std::filesystem::path(file).parent_path());
      for (const EntityListInfo& list : rules->entity_lists()) {
        for (const auto& f : list.files) {
          add_dir(std::filesystem::path(f).parent_path());
          list_files_.insert(std::filesystem::path(f).filename().string());
        }
      }
    }
  }

  // Reads pending events; true when one concerns a rule or list file.
  bool changed() {
    bool relevant = false;
    alignas(inotify_event) char buf[16384];
    for (;;) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      for (char* p = buf; p < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(p);
        const std::string name = ev->len ? ev->name : "";
        if (name.ends_with(".toml") || list_files_.count(name)) relevant = true;
        p += sizeof(inotify_event) + ev->len;
      }
    }
    return relevant;
  }

 private:
  int fd_;
  std::map<std::string, int> dirs_;
  std::map<int, std::string> by_wd_;
  std::set<std::string> list_files_;
};

struct SourceRun {
  std::unique_ptr<Source> source;
  std::thread thread;
  std::mutex mutex;
  std::string state = "running";
};

}  // namespace

int run_watch(const WatchOptions& given) {
  WatchOptions options = given;
  if (options.config.empty()) {
    // docs/design.md: `lodestone watch [-c CONFIG]`; without one, the current folder's lodestone.toml.
    if (!std::filesystem::exists("lodestone.toml")) {
      std::cerr << "lodestone watch: no lodestone.toml here; name the config with -c FILE\n";
      return 2;
    }
    options.config = "lodestone.toml";
  }
  Diagnostics diags;
  auto config = load_config(options.config, diags);
  std::cerr << format_diagnostics(diags);
  if (!config) return 2;
  if (Result<void> logging = init_logging(config->log_level, config->log_format); !logging) {
    std::cerr << "lodestone watch: " << logging.error() << '\n';
    return 2;
  }

  // Signals are taken by one signalfd in the main loop; every thread started later inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  const int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);

  auto opened = Store::open(config->state);
  if (!opened) {
    spdlog::critical("{}", opened.error());
    return 2;
  }
  std::unique_ptr<Store> store = std::move(*opened);

  std::vector<std::string> paths = options.rules;
  paths.insert(paths.end(), config->rules.begin(), config->rules.end());
  const LoadOptions load = load_options_for(options, &*config);
  std::vector<std::string> notifier_names;
  for (const auto& n : config->notifiers) notifier_names.push_back(n.name);

  Metrics metrics;
  // Collector mode (docs/scale-out.md): the sources' posts go to a Redis stream, unmatched; the
  // matchers reading it load the rules and deliver the alerts.
  const bool collector = !config->forward.empty();
  std::unique_ptr<ForwardSink> forward;
  std::shared_ptr<const RuleSet> rules;
  if (collector) {
    ForwardOptions forward_options;
    forward_options.url = config->forward;
    forward_options.stream = config->forward_stream;
    forward_options.maxlen = config->forward_maxlen;
    auto made = make_forward_sink(forward_options, *store, metrics);
    if (!made) {
      spdlog::critical("{}", made.error());
      return 2;
    }
    forward = std::move(*made);
    if (!config->notifiers.empty()) {
      spdlog::warn("collector mode: the {} [[notifier]] of the config send nothing here (the matchers deliver)",
                   config->notifiers.size());
    }
    spdlog::info("collector: forwarding every new post to {}", forward->shown());
  } else {
    std::string why;
    rules = load_watch_rules(paths, load, notifier_names, why);
    if (!rules) {
      spdlog::critical("no rules loaded: {}", why);
      return 1;
    }
    metrics.set_rules(rules->rule_count(), true, "");
    spdlog::info("loaded {} rules ({} patterns) from {} files", rules->rule_count(), rules->pattern_count(),
                 rules->file_count());
  }

  // Notifiers and their dispatchers.
  std::vector<std::unique_ptr<Notifier>> notifiers;
  std::vector<std::unique_ptr<Dispatcher>> dispatchers;
  for (const auto& n : collector ? std::vector<NotifierConfig>{} : config->notifiers) {
    auto notifier = find_notifier_kind(n.type)->make(n.name, n.values);
    if (!notifier) {
      spdlog::critical("notifier '{}': {}", n.name, notifier.error());
      return 2;
    }
    dispatchers.push_back(std::make_unique<Dispatcher>(**notifier, *store, metrics, n.retry));
    notifiers.push_back(std::move(*notifier));
  }
  if (notifiers.empty() && !collector) {
    spdlog::warn("the config defines no [[notifier]]: alerts are stored, and sent nowhere");
  }

  PipelineOptions pipeline_options;
  pipeline_options.workers =
      config->workers > 0 ? static_cast<size_t>(config->workers) : std::max(1u, std::thread::hardware_concurrency());
  pipeline_options.queue_posts = static_cast<size_t>(config->queue);
  pipeline_options.default_notifiers = config->notify;
  std::unique_ptr<Pipeline> pipeline;
  if (!collector) {
    pipeline = std::make_unique<Pipeline>(pipeline_options, *store, metrics, rules);
    pipeline->set_on_alerts([&] {
      for (auto& d : dispatchers) d->wake();
    });
  }
  PostSink& sink = collector ? static_cast<PostSink&>(*forward) : *pipeline;
  // Stops what takes posts: no batch is taken after this returns.
  auto drain = [&] {
    if (pipeline) pipeline->drain();
    if (forward) forward->drain();
  };
  for (auto& d : dispatchers) d->start();
  if (pipeline) pipeline->start();

  // Sources, each on its thread.
  std::vector<std::unique_ptr<SourceRun>> sources;
  for (const auto& s : config->sources) {
    auto source = find_source_kind(s.type)->make(s.name, s.values, config->base, store.get());
    if (!source) {
      spdlog::critical("source '{}': {}", s.name, source.error());
      drain();
      for (auto& d : dispatchers) d->stop(0);
      return 2;
    }
    auto run = std::make_unique<SourceRun>();
    run->source = std::move(*source);
    sources.push_back(std::move(run));
  }
  for (auto& r : sources) {
    SourceRun* run = r.get();
    run->thread = std::thread([run, &sink] {
      const Result<void> ran = run->source->run(sink);
      std::lock_guard lock(run->mutex);
      if (!ran) {
        spdlog::error("source '{}' stopped: {}", run->source->name(), ran.error());
        run->state = ran.error();
      } else {
        run->state = "finished";
      }
    });
  }
  if (sources.empty()) spdlog::warn("the config defines no [[source]]: nothing will be read");

  // The admin endpoint.
  AdminOptions admin_options;
  admin_options.started_at = rfc3339_utc(std::time(nullptr));
  for (const auto& n : config->notifiers) admin_options.notifiers.push_back(n.name);
  // The gauges are called on the admin server's threads until admin.stop().
  admin_options.gauges = [&] {
    Metrics::Gauges g;
    g.queue_depth = pipeline ? pipeline->queue_depth() : 0;
    try {
      for (const auto& c : store->delivery_counts()) {
        g.deliveries_by_state.emplace_back(c.notifier, std::string(to_string(c.state)), c.count);
      }
    } catch (const StoreError& e) {
      spdlog::warn("metrics: {}", e.what());
    }
    for (auto& r : sources) {
      std::string state;
      {
        std::lock_guard lock(r->mutex);
        state = r->state;
      }
      if (state == "running") {
        if (const SourceHealth health = r->source->health(); !health.up) state = "down: " + health.reason;
      }
      g.source_states.emplace_back(r->source->name(), state);
      r->source->collect_metrics(g.extra);
    }
    if (forward) {
      const SourceHealth health = forward->health();
      g.source_states.emplace_back("forward", health.up ? "running" : "down: " + health.reason);
      forward->collect_metrics(g.extra);
    }
    return g;
  };
  AdminServer admin(std::move(admin_options), metrics, *store);
  if (!config->admin.empty()) {
    if (Result<void> started = admin.start(config->admin); !started) {
      spdlog::critical("admin: {}", started.error());
      for (auto& r : sources) r->source->stop();
      for (auto& r : sources) r->thread.join();
      drain();
      for (auto& d : dispatchers) d->stop(0);
      return 2;
    }
    spdlog::info("admin: http://{}/ (status), /metrics, /healthz, /readyz", config->admin);
  }

  RuleWatcher rule_watcher;
  if (config->watch_rules && !collector) rule_watcher.watch(paths, rules.get());
  if (collector) {
    spdlog::info("collecting: {} sources, forwarding to {}, state {}", sources.size(), forward->shown(), config->state);
  } else {
    spdlog::info("watching: {} sources, {} notifiers, {} workers, state {}", sources.size(), notifiers.size(),
                 pipeline_options.workers, config->state);
  }

  auto reload = [&](const char* why_reload) {
    if (!pipeline) {
      spdlog::info("{}: a collector loads no rules", why_reload);
      return;
    }
    spdlog::info("reloading rules ({})", why_reload);
    std::string reason;
    auto next = load_watch_rules(paths, load, notifier_names, reason);
    metrics.add_reload(next != nullptr);
    if (!next) {
      spdlog::error("reload failed; the previous {} rules keep running: {}", pipeline->rules()->rule_count(), reason);
      metrics.set_rules(pipeline->rules()->rule_count(), false, reason);
      return;
    }
    pipeline->set_rules(next);
    metrics.set_rules(next->rule_count(), true, "");
    if (config->watch_rules) rule_watcher.watch(paths, next.get());
    spdlog::info("reloaded: {} rules ({} patterns)", next->rule_count(), next->pattern_count());
  };

  // The main loop: signals, rule changes, and housekeeping every second.
  int64_t last_prune = 0;
  int64_t reload_due = -1;  // debounce: editors write a file in several steps
  bool stop = false;
  while (!stop) {
    pollfd fds[2] = {{signal_fd, POLLIN, 0}, {rule_watcher.fd(), POLLIN, 0}};
    const int timeout = reload_due >= 0 ? 100 : 1000;
    ::poll(fds, rule_watcher.fd() >= 0 ? 2 : 1, timeout);
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      while (::read(signal_fd, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGHUP) {
          reload("SIGHUP");
        } else {
          spdlog::info("{}: shutting down", info.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
          stop = true;
        }
      }
    }
    if (rule_watcher.fd() >= 0 && (fds[1].revents & POLLIN) && rule_watcher.changed())
      reload_due = system_now_ms() + 300;
    const int64_t now = system_now_ms();
    if (reload_due >= 0 && now >= reload_due && !stop) {
      reload_due = -1;
      reload("a rule file changed");
    }
    if (pipeline) pipeline->flush_throttle(now);
    if (now - last_prune > 3600 * 1000) {
      last_prune = now;
      try {
        const size_t pruned = store->prune_seen(now - static_cast<int64_t>(config->retention * 1000));
        if (pruned) spdlog::info("forgot {} post keys older than the retention", pruned);
      } catch (const StoreError& e) {
        spdlog::error("store: {}", e.what());
      }
    }
  }

  // Shutdown: sources first (each acknowledges what it submitted), then the queue drains, then
  // deliveries get their deadline; whatever is undelivered stays pending in the store.
  admin.set_ready(false);
  for (auto& r : sources) r->source->stop();
  for (auto& r : sources) r->thread.join();
  drain();
  for (auto& d : dispatchers) d->stop(config->shutdown_deadline);
  admin.stop();
  try {
    for (const auto& c : store->delivery_counts()) {
      if (c.state == DeliveryState::kPending) {
        spdlog::info("{} deliveries to {} stay pending for the next start", c.count, c.notifier);
      }
    }
  } catch (const StoreError&) {
  }
  spdlog::info("stopped");
  ::close(signal_fd);
  return 0;
}

int run_notify_test(const NotifyTestOptions& options) {
  Diagnostics diags;
  auto config = load_config(options.config, diags);
  std::cerr << format_diagnostics(diags);
  if (!config) return 2;
  const NotifierConfig* found = nullptr;
  for (const auto& n : config->notifiers) {
    if (n.name == options.notifier) found = &n;
  }
  if (!found) {
    std::cerr << "lodestone notify-test: " << options.config << " defines no notifier '" << options.notifier
              << "' (it has:";
    for (const auto& n : config->notifiers) std::cerr << ' ' << n.name;
    std::cerr << ")\n";
    return 2;
  }
  auto made = find_notifier_kind(found->type)->make(found->name, found->values);
  if (!made) {
    std::cerr << "lodestone notify-test: " << made.error() << '\n';
    return 2;
  }
  std::unique_ptr<Notifier> notifier = std::move(*made);
  Alert alert;
  alert.rule = {"lodestone-notify-test", "Lodestone notifier test", "info", {"test"}};
  alert.post = {"notify-test", "lodestone", "稀土 export controls: a test alert from lodestone notify-test",
                "https://example.com/lodestone/notify-test", ""};
  alert.matched_at = rfc3339_utc(std::time(nullptr));
  // A fresh id each run, two in the same second included, so a receiver that deduplicates (by
  // webhook-id, LINE's retry key, Matrix's transaction id) still shows the test.
  std::random_device random;
  std::string nonce = alert.post.id + "/" + alert.matched_at + "/";
  for (int i = 0; i < 4; ++i) nonce += std::to_string(random());
  alert.id = alert_id(alert.rule.id, alert.post.source, nonce);
  AlertMatch m;
  m.field = "title";
  m.term = "稀土";
  m.text = "稀土";
  m.start = 0;
  m.end = 2;
  m.byte_start = 0;
  m.byte_end = 6;
  m.snippet = alert.post.title;
  alert.matches.push_back(m);
  const std::string json = to_json(alert);
  const DeliveryAttempt attempt = notifier->send(alert, json);
  using Outcome = DeliveryAttempt::Outcome;
  const char* word = attempt.outcome == Outcome::kDelivered ? "delivered"
                     : attempt.outcome == Outcome::kRetry   ? "failed (would be retried)"
                                                            : "failed (would not be retried)";
  std::cout << options.notifier << ": " << word;
  if (attempt.status) std::cout << " (status " << attempt.status << ")";
  if (!attempt.error.empty()) std::cout << ": " << attempt.error;
  std::cout << '\n';
  return attempt.outcome == Outcome::kDelivered ? 0 : 1;
}

}  // namespace lodestone::cli
