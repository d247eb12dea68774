// The admin endpoint: cpp-httplib routes over the watcher's metrics, store and live state.
#include "watch/admin.h"

#include <httplib.h>
#include <sys/socket.h>

#include <optional>
#include <thread>

#include <spdlog/spdlog.h>

#include "lodestone/alert.h"
#include "util/clock.h"
#include "util/listen_address.h"
#include "watch/status_page.h"

namespace lodestone {

struct AdminServer::Server {
  httplib::Server http;
  std::thread thread;
};

AdminServer::AdminServer(AdminOptions options, Metrics& metrics, Store& store)
    : options_(std::move(options)), metrics_(metrics), store_(store) {}

AdminServer::~AdminServer() { stop(); }

Result<void> AdminServer::start(const std::string& listen) {
  const std::optional<ListenAddress> address = parse_listen_address(listen);
  if (!address) return Failure{"listen must be host:port or [IPv6 address]:port, not \"" + listen + "\""};
  server_ = std::make_unique<Server>();
  httplib::Server& admin = server_->http;
  admin.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.render(options_.gauges()), "text/plain; version=0.0.4; charset=utf-8");
  });
  admin.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    std::string body;
    bool ok = true;
    if (!metrics_.last_reload_ok()) {
      ok = false;
      body += "rules: the last reload failed (the previous rules still run): " + metrics_.last_reload_error() + "\n";
    }
    for (const auto& [name, state] : options_.gauges().source_states) {
      if (state != "running" && state != "finished") {
        ok = false;
        body += "source " + name + ": " + state + "\n";
      }
    }
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ok\n" : body, "text/plain; charset=utf-8");
  });
  admin.Get("/", [this](const httplib::Request&, httplib::Response& res) {
    StatusPage page;
    page.now_ms = system_now_ms();
    page.started_at = options_.started_at;
    page.rules = metrics_.rules_loaded();
    page.last_reload_ok = metrics_.last_reload_ok();
    page.last_reload_error = metrics_.last_reload_error();
    const Metrics::Gauges g = options_.gauges();
    page.queue_depth = g.queue_depth;
    page.sources = g.source_states;
    page.deliveries = g.deliveries_by_state;
    page.notifiers = options_.notifiers;
    try {
      page.counts = store_.alert_counts(page.now_ms - 24 * 3600 * 1000, 100000);
      for (const auto& stored : store_.recent_alerts(20)) {
        if (Result<Alert> alert = alert_from_json(stored.json)) page.recent.push_back(std::move(*alert));
      }
    } catch (const StoreError& e) {
      res.status = 503;
      res.set_content(std::string("store: ") + e.what() + "\n", "text/plain; charset=utf-8");
      return;
    }
    res.set_content(render_status_page(page), "text/html; charset=utf-8");
  });
  admin.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    // Not ready while shutting down, or while a source is down: a matcher that lost its Redis
    // takes no work, and a collector that cannot forward takes no pushes.
    std::string body = ready_ ? "" : "shutting down\n";
    for (const auto& [name, state] : options_.gauges().source_states) {
      if (state.starts_with("down")) body += "source " + name + ": " + state + "\n";
    }
    res.status = body.empty() ? 200 : 503;
    res.set_content(body.empty() ? "ready\n" : body, "text/plain; charset=utf-8");
  });
  // Not httplib's default SO_REUSEPORT, which lets a second watcher bind the same port silently.
  admin.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  if (!admin.bind_to_port(address->host, address->port)) {
    server_.reset();
    return Failure{"cannot listen on " + listen};
  }
  server_->thread = std::thread([&admin] { admin.listen_after_bind(); });
  return {};
}

void AdminServer::stop() {
  if (!server_) return;
  server_->http.stop();
  if (server_->thread.joinable()) server_->thread.join();
  server_.reset();
}

}  // namespace lodestone
