#include "test_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "absl/strings/str_cat.h"

namespace mcsink::maxcompute_client::testing {
namespace {

int FindFreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestHttpServer>> TestHttpServer::Start(Handler handler) {
  std::string last_error = "no free port found";
  for (int tries = 0; tries < 5; ++tries) {
    const int port = FindFreePort();
    if (port <= 0) continue;
    std::unique_ptr<TestHttpServer> server(new TestHttpServer(port, handler));
    try {
      server->listener_ = std::make_unique<web::http::experimental::listener::http_listener>(
          web::uri(server->url() + "/"));
      TestHttpServer* raw = server.get();
      server->listener_->support([raw](web::http::http_request request) { raw->Handle(request); });
      server->listener_->open().wait();
      return server;
    } catch (const std::exception& e) {
      last_error = e.what();
      server->listener_.reset();
    }
  }
  return absl::UnavailableError(absl::StrCat("cannot start test HTTP server: ", last_error));
}

TestHttpServer::TestHttpServer(int port, Handler handler)
    : port_(port), handler_(std::move(handler)) {}

TestHttpServer::~TestHttpServer() {
  std::vector<web::http::http_request> held;
  {
    std::lock_guard<std::mutex> lock(mu_);
    held.swap(held_);
  }
  for (auto& request : held) {
    try {
      request.reply(web::http::status_codes::ServiceUnavailable).wait();
    } catch (const std::exception&) {
      // The client gave up on this connection long ago.
    }
  }
  if (listener_) {
    try {
      listener_->close().wait();
    } catch (const std::exception&) {
    }
  }
}

void TestHttpServer::Handle(web::http::http_request request) {
  ReceivedRequest received;
  received.method = request.method();
  received.raw_path = request.relative_uri().path();
  received.path = PercentDecode(received.raw_path).value_or("<undecodable>");
  received.query = ParseQueryString(request.relative_uri().query()).value_or(QueryParams{});
  for (const auto& [name, value] : request.headers()) received.headers.emplace_back(name, value);
  const std::vector<unsigned char> body = request.extract_vector().get();
  received.body.assign(body.begin(), body.end());

  int number;
  {
    std::lock_guard<std::mutex> lock(mu_);
    received_.push_back(received);
    number = static_cast<int>(received_.size());
  }
  cv_.notify_all();

  const Reply reply = handler_(received, number);
  if (reply.hold) {
    std::lock_guard<std::mutex> lock(mu_);
    held_.push_back(request);
    return;
  }
  web::http::http_response response(static_cast<web::http::status_code>(reply.status));
  for (const auto& [name, value] : reply.headers) response.headers().add(name, value);
  // A byte vector body: cpprest's string overload reinterprets a char stream (UBSan flags it).
  response.set_body(std::vector<unsigned char>(reply.body.begin(), reply.body.end()));
  request.reply(response).wait();
}

int TestHttpServer::request_count() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(received_.size());
}

std::vector<ReceivedRequest> TestHttpServer::requests() {
  std::lock_guard<std::mutex> lock(mu_);
  return received_;
}

bool TestHttpServer::WaitForRequests(int count, absl::Duration deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, absl::ToChronoNanoseconds(deadline),
                      [&] { return static_cast<int>(received_.size()) >= count; });
}

}  // namespace mcsink::maxcompute_client::testing
