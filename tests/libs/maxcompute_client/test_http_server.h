// A local cpprest http_listener for HTTP client tests: it counts and records requests and lets
// each test decide the reply. Requests can be held unanswered (to provoke client timeouts) and
// are answered when the server stops.
#pragma once

// cpprest's U() macro clashes with GoogleTest; utility::string_t is std::string on Linux.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/http_listener.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mcsink/maxcompute_client/http.h"

namespace mcsink::maxcompute_client::testing {

// What the server received, decoded.
struct ReceivedRequest {
  std::string method;
  std::string raw_path;  // as sent, percent-encoded
  std::string path;      // decoded
  QueryParams query;     // decoded
  Headers headers;
  std::string body;
};

// What to answer; `hold` leaves the request unanswered until the server stops.
struct Reply {
  int status = 200;
  std::string body;
  Headers headers;
  bool hold = false;
};

class TestHttpServer {
 public:
  // Called for each request with its 1-based number.
  using Handler = std::function<Reply(const ReceivedRequest& request, int number)>;

  // Listens on 127.0.0.1 on a free port. cpprest's listener cannot report the port it got for
  // port 0, so a free port is found first and the (unlikely) race is retried.
  static absl::StatusOr<std::unique_ptr<TestHttpServer>> Start(Handler handler);
  ~TestHttpServer();

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  int request_count();
  std::vector<ReceivedRequest> requests();
  // Waits (on a condition, with a deadline) until at least `count` requests arrived.
  bool WaitForRequests(int count, absl::Duration deadline);

 private:
  TestHttpServer(int port, Handler handler);
  void Handle(web::http::http_request request);

  const int port_;
  const Handler handler_;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ReceivedRequest> received_;
  std::vector<web::http::http_request> held_;
};

}  // namespace mcsink::maxcompute_client::testing
