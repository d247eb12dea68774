// watch_latency: the latency of `lodestone watch` from a post's arrival to its webhook (issue 5).
// One process holds both ends, so one steady clock times them: a webhook receiver on 127.0.0.1
// and an open-loop load generator for the HTTP ingest source. Post i is due at t0 + i/R; client
// threads each take the next due post, wait for its time and POST it alone (a live pusher sends
// posts as they come). Every K-th post carries the word "lodestoneprobe", which the rule
// `latency-probe` alerts on; a probe's latency is its webhook's arrival minus its *scheduled*
// time, so a client held up by a slow answer does not hide the wait (no coordinated omission).
// The queue depth is read from /metrics every 500 ms. Prints one line of key=value pairs.
//
//   bench/watch_latency.sh runs it against a fresh watcher for each rate; by hand:
//   watch_latency --ingest http://127.0.0.1:8080/v1/posts --receiver-port 9000
//       --metrics http://127.0.0.1:9108/metrics --posts ../shared/corpus/reuters21578.jsonl
//       --rate 1000 --seconds 30 [--probe-every 10] [--connections 8] [--token T] [--run-id ID]
//       [--trace FILE.tsv]  (per post: due time, send lag, 202 and webhook latency, in ms)
//   (one command line; the watcher's config must route the rule `latency-probe` to a webhook at
//   http://127.0.0.1:<receiver-port>/hook)
//
// Exit 0 when the run completed (sustained or not), 2 on a setup error.
#include <httplib.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Ns = std::chrono::nanoseconds;

constexpr std::string_view kProbeRule = "latency-probe";
constexpr std::string_view kProbeWord = " lodestoneprobe";
constexpr auto kSampleEvery = std::chrono::milliseconds(500);
constexpr auto kProbeWait = std::chrono::seconds(10);  // for the last probes' webhooks, after the load
// A post not started within this long after the schedule's end is not sent: a watcher far behind
// must not stretch the run (and the rate search) without end. It counts as `unsent`.
constexpr auto kLateCutoff = std::chrono::seconds(1);

struct Options {
  std::string ingest;
  std::string token;
  int receiver_port = 0;
  std::string metrics;
  std::string posts;
  double rate = 0;
  double seconds = 0;
  int probe_every = 10;
  int connections = 8;
  std::string run_id;
  std::string trace;  // a TSV file: one line a post, for finding where the time went
};

// "http://host:port/path" split up; only plain http on loopback is needed here.
struct Url {
  std::string host;
  int port = 0;
  std::string path;
};

std::optional<Url> parse_url(const std::string& text) {
  constexpr std::string_view kScheme = "http://";
  if (text.compare(0, kScheme.size(), kScheme) != 0) return std::nullopt;
  const std::string rest = text.substr(kScheme.size());
  const size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  const size_t colon = authority.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  Url url;
  url.host = authority.substr(0, colon);
  try {
    url.port = std::stoi(authority.substr(colon + 1));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  url.path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (url.host.empty() || url.port <= 0 || url.port > 65535) return std::nullopt;
  return url;
}

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "watch_latency: " << why << "\n"
            << "usage: watch_latency --ingest URL --receiver-port P --metrics URL --posts FILE.jsonl --rate R "
               "--seconds S [--probe-every K] [--connections C] [--token T] [--run-id ID] [--trace FILE.tsv]\n";
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  std::map<std::string, std::string> values;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || i + 1 >= argc) usage("expected --option value, got '" + key + "'");
    values[key.substr(2)] = argv[++i];
  }
  auto take = [&](const std::string& key) -> std::optional<std::string> {
    auto it = values.find(key);
    if (it == values.end()) return std::nullopt;
    std::string v = it->second;
    values.erase(it);
    return v;
  };
  auto number = [&](const std::string& key, auto& out) {
    if (auto v = take(key)) {
      try {
        size_t used = 0;
        const double d = std::stod(*v, &used);
        if (used != v->size() || !std::isfinite(d)) throw std::invalid_argument(key);
        out = static_cast<std::decay_t<decltype(out)>>(d);
      } catch (const std::exception&) {
        usage("--" + key + " must be a number, not '" + *v + "'");
      }
    }
  };
  o.ingest = take("ingest").value_or("");
  o.token = take("token").value_or("");
  o.metrics = take("metrics").value_or("");
  o.posts = take("posts").value_or("");
  o.run_id = take("run-id").value_or("");
  o.trace = take("trace").value_or("");
  number("receiver-port", o.receiver_port);
  number("rate", o.rate);
  number("seconds", o.seconds);
  number("probe-every", o.probe_every);
  number("connections", o.connections);
  if (!values.empty()) usage("unknown option --" + values.begin()->first);
  if (o.ingest.empty() || o.metrics.empty() || o.posts.empty()) usage("--ingest, --metrics and --posts are required");
  if (o.receiver_port <= 0 || o.receiver_port > 65535) usage("--receiver-port must be a port number");
  if (o.rate <= 0 || o.seconds <= 0) usage("--rate and --seconds must be positive");
  if (o.probe_every < 1 || o.connections < 1) usage("--probe-every and --connections must be at least 1");
  if (o.run_id.empty()) {
    o.run_id = "lat" + std::to_string(::getpid()) + "x" +
               std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  }
  return o;
}

// Each corpus post as the tail of a request body: `,"title":"…","body":"…` without the body's
// closing quote, so a probe word can be appended before it. Serialised once, not per request.
std::vector<std::string> load_posts(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto post = nlohmann::json::parse(line, nullptr, false);
    if (!post.is_object()) continue;
    const std::string title = post.value("title", "");
    const std::string body = post.value("body", "");
    if (title.empty() && body.empty()) continue;
    using nlohmann::json;
    std::string tail = ",\"title\":" + json(title).dump(-1, ' ', false, json::error_handler_t::replace) +
                       ",\"body\":" + json(body).dump(-1, ' ', false, json::error_handler_t::replace);
    tail.pop_back();  // the body's closing quote
    out.push_back(std::move(tail));
  }
  return out;
}

// The value of an unlabelled Prometheus sample `name value`, and the sum of the samples of
// `prefix{...}` whose labels include `label` (e.g. the pending deliveries of every notifier).
struct MetricsSample {
  double queue_depth = -1;
  double pending = 0;
};

std::optional<MetricsSample> read_metrics(httplib::Client& client, const std::string& path) {
  auto res = client.Get(path.c_str());
  if (!res || res->status != 200) return std::nullopt;
  MetricsSample s;
  std::istringstream in(res->body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("lodestone_queue_depth ", 0) == 0) {
      s.queue_depth = std::strtod(line.c_str() + line.find(' ') + 1, nullptr);
    } else if (line.rfind("lodestone_deliveries{", 0) == 0 && line.find("state=\"pending\"") != std::string::npos) {
      s.pending += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
    }
  }
  if (s.queue_depth < 0) return std::nullopt;
  return s;
}

// Nearest-rank percentile of sorted values, in ms.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return NAN;
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

std::string ms(double v) {
  if (std::isnan(v)) return "na";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string whole(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

double to_ms(Ns d) { return static_cast<double>(d.count()) / 1e6; }

// What the run records, shared by the client threads, the receiver and the sampler.
class Run {
 public:
  Run(const Options& o, size_t total)
      : options_(o), arrival_(total), sent_(total), acked_(total), status_(total, 0), probe_ok_(total, false) {}

  void set_start(Clock::time_point t0) { t0_ = t0; }
  Clock::time_point due(size_t i) const {
    return t0_ + std::chrono::duration_cast<Ns>(std::chrono::duration<double>(static_cast<double>(i) / options_.rate));
  }
  bool is_probe(size_t i) const { return (i + 1) % static_cast<size_t>(options_.probe_every) == 0; }
  std::string post_id(size_t i) const { return options_.run_id + "-" + std::to_string(i); }

  // The index of one of this run's post ids, or nullopt.
  std::optional<size_t> index_of(const std::string& id) const {
    if (id.size() <= options_.run_id.size() + 1 || id.compare(0, options_.run_id.size(), options_.run_id) != 0 ||
        id[options_.run_id.size()] != '-') {
      return std::nullopt;
    }
    const std::string digits = id.substr(options_.run_id.size() + 1);
    if (digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    const size_t i = std::stoull(digits);
    if (i >= arrival_.size()) return std::nullopt;
    return i;
  }

  // A webhook: the first of a probe post's alerts by the probe rule counts; a repeat is a duplicate.
  void on_webhook(const std::string& body, Clock::time_point at) {
    const auto j = nlohmann::json::parse(body, nullptr, false);
    std::string rule, id;
    if (j.is_object() && j.contains("data") && j["data"].is_object()) {
      const auto& data = j["data"];
      if (data.contains("rule") && data["rule"].is_object()) rule = data["rule"].value("id", "");
      if (data.contains("post") && data["post"].is_object()) id = data["post"].value("id", "");
    }
    const auto i = index_of(id);
    std::lock_guard lock(mutex_);
    if (rule != kProbeRule || !i || !is_probe(*i)) {
      ++other_alerts_;
      return;
    }
    if (arrival_[*i] != Clock::time_point{}) {
      ++duplicates_;
      return;
    }
    arrival_[*i] = at;
  }

  void on_answer(size_t i, Clock::time_point sent_at, Clock::time_point at, int status, const std::string& body,
                 const std::string& error) {
    std::lock_guard lock(mutex_);
    ++sent_count_;
    sent_[i] = sent_at;
    status_[i] = status;
    lag_max_ = std::max(lag_max_, sent_at - due(i));
    last_answer_ = std::max(last_answer_, at);
    if (status == 202) {
      ++accepted_;
      acked_[i] = at;
      if (body.find("\"new\":0") != std::string::npos) ++not_new_;
      if (is_probe(i)) {
        probe_ok_[i] = true;
        ++probes_;
      }
    } else if (status == 503) {
      ++refused_;
    } else {
      if (errors_++ == 0) std::cerr << "watch_latency: post " << i << ": " << error << "\n";
    }
  }
  void on_unsent() {
    std::lock_guard lock(mutex_);
    ++unsent_;
  }
  void on_sample(Clock::time_point at, const MetricsSample& s) {
    std::lock_guard lock(mutex_);
    samples_.push_back({at - t0_, s});
  }
  bool all_probes_in() const {
    std::lock_guard lock(mutex_);
    return received() == probes_;
  }

  // Accepted probes whose webhook came (one whose POST failed may alert too, and is not counted).
  size_t received() const {
    size_t n = 0;
    for (size_t i = 0; i < arrival_.size(); ++i) n += probe_ok_[i] && arrival_[i] != Clock::time_point{} ? 1 : 0;
    return n;
  }

  // One line a sent post: index, due (ms from t0), send lag, status, 202 latency and webhook
  // latency from the due time (empty when none).
  void write_trace(const std::string& path) const {
    std::lock_guard lock(mutex_);
    std::ofstream out(path);
    out << "post\tdue_ms\tlag_ms\tstatus\tack_ms\twebhook_ms\n";
    for (size_t i = 0; i < sent_.size(); ++i) {
      if (sent_[i] == Clock::time_point{}) continue;
      out << i << '\t' << ms(to_ms(due(i) - t0_)) << '\t' << ms(to_ms(sent_[i] - due(i))) << '\t' << status_[i] << '\t'
          << (acked_[i] == Clock::time_point{} ? "" : ms(to_ms(acked_[i] - due(i)))) << '\t'
          << (arrival_[i] == Clock::time_point{} ? "" : ms(to_ms(arrival_[i] - due(i)))) << '\n';
    }
  }

  // The report line; `sustained` is decided here.
  std::string report() const {
    std::lock_guard lock(mutex_);
    const size_t probes_in = received();
    std::vector<double> latency, ack, deliver;
    for (size_t i = 0; i < arrival_.size(); ++i) {
      if (acked_[i] != Clock::time_point{}) ack.push_back(to_ms(acked_[i] - due(i)));
      if (!probe_ok_[i] || arrival_[i] == Clock::time_point{}) continue;
      latency.push_back(to_ms(arrival_[i] - due(i)));
      deliver.push_back(to_ms(arrival_[i] - acked_[i]));
    }
    for (auto* v : {&latency, &ack, &deliver}) std::sort(v->begin(), v->end());
    // Queue depth over the first and the last third of the load (the schedule's S seconds).
    const double s = options_.seconds;
    double first_sum = 0, last_sum = 0, queue_max = 0, pending_max = 0;
    size_t first_n = 0, last_n = 0;
    for (const auto& [at, sample] : samples_) {
      const double t = std::chrono::duration<double>(at).count();
      if (t < 0 || t > s) continue;
      queue_max = std::max(queue_max, sample.queue_depth);
      pending_max = std::max(pending_max, sample.pending);
      if (t < s / 3) {
        first_sum += sample.queue_depth;
        ++first_n;
      }
      if (t >= 2 * s / 3) {
        last_sum += sample.queue_depth;
        ++last_n;
      }
    }
    const double first_mean = first_n ? first_sum / static_cast<double>(first_n) : 0;
    const double last_mean = last_n ? last_sum / static_cast<double>(last_n) : 0;
    // The sending took the schedule's length, or longer when the watcher held the clients back.
    const double span = std::max(s, std::chrono::duration<double>(last_answer_ - t0_).count());
    const double achieved = static_cast<double>(sent_count_) / span;
    // No growth: a watcher that keeps up holds about R × (the time a post waits) in its queue
    // (Little's law), steady over the run. R/10 is what a wait longer by 100 ms adds, well above
    // a few posts of noise at any rate, and small against a queue that fills for good (10,000).
    // The HTTP source answers only after the commit, so its queue holds at most one post per
    // server thread (8) here: a watcher falling behind shows first as send lag (the clients
    // wait for answers), hence the achieved-rate test and the latency from the scheduled time.
    const bool steady_queue = last_mean <= first_mean + options_.rate / 10;
    const bool sustained = refused_ == 0 && errors_ == 0 && unsent_ == 0 && probes_in == probes_ && probes_ > 0 &&
                           achieved >= 0.95 * options_.rate && steady_queue;
    std::ostringstream out;
    out << "rate=" << whole(options_.rate) << " seconds=" << options_.seconds << " sent=" << sent_count_
        << " accepted=" << accepted_ << " refused=" << refused_ << " errors=" << errors_ << " unsent=" << unsent_
        << " probes=" << probes_ << " received=" << probes_in << " duplicates=" << duplicates_
        << " p50_ms=" << ms(percentile(latency, 0.50)) << " p99_ms=" << ms(percentile(latency, 0.99))
        << " max_ms=" << ms(latency.empty() ? NAN : latency.back()) << " queue_max=" << queue_max
        << " queue_mean_first=" << ms(first_mean) << " queue_mean_last=" << ms(last_mean)
        << " achieved_rate=" << whole(achieved) << " ack_p50_ms=" << ms(percentile(ack, 0.50))
        << " ack_p99_ms=" << ms(percentile(ack, 0.99)) << " deliver_p50_ms=" << ms(percentile(deliver, 0.50))
        << " deliver_p99_ms=" << ms(percentile(deliver, 0.99)) << " lag_max_ms=" << ms(to_ms(lag_max_))
        << " pending_max=" << pending_max << " other_alerts=" << other_alerts_ << " not_new=" << not_new_
        << " sustained=" << (sustained ? "yes" : "no");
    return out.str();
  }

 private:
  struct Sample {
    Ns at;
    MetricsSample value;
  };
  const Options& options_;
  Clock::time_point t0_;
  mutable std::mutex mutex_;
  std::vector<Clock::time_point> arrival_;  // first probe webhook of post i
  std::vector<Clock::time_point> sent_;     // when post i was sent
  std::vector<Clock::time_point> acked_;    // its 202
  std::vector<int> status_;                 // its answer's status, 0 for none
  std::vector<bool> probe_ok_;              // a probe that was accepted, so a webhook is owed
  std::vector<Sample> samples_;
  size_t sent_count_ = 0, accepted_ = 0, refused_ = 0, errors_ = 0, unsent_ = 0, not_new_ = 0;
  size_t probes_ = 0, duplicates_ = 0, other_alerts_ = 0;
  Ns lag_max_{0};
  Clock::time_point last_answer_;
};

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  const auto ingest = parse_url(options.ingest);
  const auto metrics = parse_url(options.metrics);
  if (!ingest || !metrics) usage("--ingest and --metrics must be http://host:port/path");

  if (!std::ifstream(options.posts)) {
    std::cerr << "watch_latency: cannot read " << options.posts << "\n";
    return 2;
  }
  const std::vector<std::string> corpus = load_posts(options.posts);
  if (corpus.empty()) {
    std::cerr << "watch_latency: no posts with a title or body in " << options.posts << "\n";
    return 2;
  }
  const auto total = static_cast<size_t>(std::llround(options.rate * options.seconds));
  Run run(options, total);

  // The receiver answers 200 at once; it keeps libcurl's connection open across deliveries.
  // TCP_NODELAY: cpp-httplib writes a response's headers and body in two sends, and on a kept-alive
  // connection Nagle holds the body until the headers are acknowledged, which libcurl's delayed ACK
  // puts off by 40 ms: every delivery would take 40 ms, and the receiver, not lodestone, would be timed.
  httplib::Server receiver;
  receiver.new_task_queue = [] { return new httplib::ThreadPool(4); };
  receiver.set_keep_alive_max_count(1000000);
  receiver.set_tcp_nodelay(true);
  receiver.Post("/hook", [&run](const httplib::Request& req, httplib::Response& res) {
    run.on_webhook(req.body, Clock::now());
    res.set_content("{}", "application/json");
  });
  if (!receiver.bind_to_port("127.0.0.1", options.receiver_port)) {
    std::cerr << "watch_latency: cannot listen on 127.0.0.1:" << options.receiver_port << "\n";
    return 2;
  }
  std::thread receiver_thread([&] { receiver.listen_after_bind(); });
  // stop() before the loop runs would be lost, and the join below would wait for ever.
  while (!receiver.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto stop_receiver = [&] {
    receiver.stop();
    receiver_thread.join();
  };

  httplib::Client metrics_client(metrics->host, metrics->port);
  metrics_client.set_connection_timeout(2);
  metrics_client.set_read_timeout(2);
  if (!read_metrics(metrics_client, metrics->path)) {
    std::cerr << "watch_latency: " << options.metrics << " does not answer with lodestone_queue_depth\n";
    stop_receiver();
    return 2;
  }

  run.set_start(Clock::now() + std::chrono::milliseconds(200));
  const Clock::time_point schedule_end = run.due(total);
  std::atomic<size_t> next{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < options.connections; ++c) {
    clients.emplace_back([&] {
      httplib::Client client(ingest->host, ingest->port);
      client.set_keep_alive(true);
      client.set_connection_timeout(5);
      client.set_read_timeout(30);
      if (!options.token.empty()) client.set_bearer_token_auth(options.token.c_str());
      std::string body;
      for (size_t i = next++; i < total; i = next++) {
        const Clock::time_point due = run.due(i);
        std::this_thread::sleep_until(due);
        const Clock::time_point sent_at = Clock::now();
        if (sent_at > schedule_end + kLateCutoff) {
          run.on_unsent();
          continue;
        }
        body = "{\"id\":\"" + run.post_id(i) + "\"";
        body += corpus[i % corpus.size()];
        if (run.is_probe(i)) body += kProbeWord;
        body += "\"}";
        auto res = client.Post(ingest->path.c_str(), body, "application/json");
        const Clock::time_point at = Clock::now();
        if (res) {
          run.on_answer(i, sent_at, at, res->status, res->body, "HTTP " + std::to_string(res->status) + ": " + res->body);
        } else {
          run.on_answer(i, sent_at, at, 0, "", "request failed: " + httplib::to_string(res.error()));
        }
      }
    });
  }

  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    for (Clock::time_point at = Clock::now(); sampling; at += kSampleEvery) {
      std::this_thread::sleep_until(at);
      if (auto s = read_metrics(metrics_client, metrics->path)) run.on_sample(Clock::now(), *s);
    }
  });

  for (auto& t : clients) t.join();
  const Clock::time_point wait_until = Clock::now() + kProbeWait;
  while (!run.all_probes_in() && Clock::now() < wait_until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  sampling = false;
  sampler.join();
  stop_receiver();
  if (!options.trace.empty()) run.write_trace(options.trace);
  std::cout << run.report() << std::endl;
  return 0;
}
