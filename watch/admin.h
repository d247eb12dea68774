// The admin endpoint of `lodestone watch`: /metrics (Prometheus text), /healthz, /readyz and the
// status page `/`. It serves on threads of its own; every method may be called from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lodestone/result.h"
#include "watch/metrics.h"
#include "watch/store.h"

namespace lodestone {

struct AdminOptions {
  std::string started_at;              // RFC 3339, shown on the status page
  std::vector<std::string> notifiers;  // names, in config order
  // The watcher's live state (queue, deliveries, sources), called on the server's threads for
  // each /metrics, /healthz and / request, until stop() returns.
  std::function<Metrics::Gauges()> gauges;
};

// /healthz is 503, naming each cause, when the last rule reload failed or a source is neither
// running nor finished (stopped on an error, or down); /readyz is 503 once set_ready(false)
// (shutting down) and while a source is down (its state starts with "down").
class AdminServer {
 public:
  AdminServer(AdminOptions options, Metrics& metrics, Store& store);
  ~AdminServer();  // stop()s
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds `listen` ("host:port", "[v6]:port"; without SO_REUSEPORT, so a second watcher on the
  // same port fails here) and serves on a thread of its own. Fails, naming the address, when it
  // is no address or cannot be bound.
  Result<void> start(const std::string& listen);
  void set_ready(bool ready) { ready_ = ready; }
  // Stops serving and joins the thread; requests in flight are finished first.
  void stop();

 private:
  struct Server;
  AdminOptions options_;
  Metrics& metrics_;
  Store& store_;
  std::atomic<bool> ready_{true};
  std::unique_ptr<Server> server_;
};

}  // namespace lodestone
