// A small blocking HTTP/1.1 server on Boost.Beast: one thread per connection (bounded), keep-alive,
// chunked and sized request bodies, a body-size limit, and an optional "drop the connection"
// answer for fault injection. Port 0 binds a free port; port() tells which.
//
// Why not cpprestsdk's http_listener: it cannot report the port it bound when asked for port 0,
// and it offers no way to close a connection without answering (needed to inject faults).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace mclocal {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // upper case
  std::string target;  // as received: path plus optional ?query
  HeaderList headers;
  std::string body;
  std::string remote_address;

  // Case-insensitive; the first match.
  std::optional<std::string_view> Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  HeaderList headers;
  std::string body;
  // Close the socket without sending anything (fault injection).
  bool drop_connection = false;

  void SetHeader(std::string name, std::string value);
  std::optional<std::string_view> Header(std::string_view name) const;
};

using HttpHandler = std::function<HttpResponse(HttpRequest&)>;

struct HttpServerOptions {
  int max_connections = 64;
  // Larger request bodies are refused with 413 before they are read.
  uint64_t max_body_bytes = uint64_t{512} << 20;
  // A connection idle this long between requests (or stalled mid-request) is closed.
  int idle_timeout_seconds = 120;
};

class HttpServer {
 public:
  // `address` is host:port; port 0 picks a free port.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& address,
                                                           HttpHandler handler,
                                                           HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  const std::string& host() const { return host_; }
  // Stops accepting, closes every connection and joins their threads. Idempotent.
  void Stop();

 private:
  struct Impl;
  HttpServer() = default;
  std::unique_ptr<Impl> impl_;
  std::string host_;
  int port_ = 0;
};

}  // namespace mclocal
