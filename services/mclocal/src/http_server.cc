#include "mclocal/http_server.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mcsink/common/log.h"

namespace mclocal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

std::optional<std::string_view> FindIn(const HeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, absl::string_view(name.data(), name.size()))) return v;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string_view> HttpRequest::Header(std::string_view name) const {
  return FindIn(headers, name);
}

std::optional<std::string_view> HttpResponse::Header(std::string_view name) const {
  return FindIn(headers, name);
}

void HttpResponse::SetHeader(std::string name, std::string value) {
  for (auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

struct HttpServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  HttpHandler handler;
  HttpServerOptions options;
  std::thread accept_thread;

  std::mutex mu;
  std::condition_variable idle;
  std::set<tcp::socket*> sockets;  // open connections, for Stop
  int active = 0;
  bool stopping = false;

  void AcceptLoop();
  void Serve(tcp::socket& socket);
};

void HttpServer::Impl::AcceptLoop() {
  while (true) {
    boost::system::error_code ec;
    tcp::socket socket(io);
    acceptor.accept(socket, ec);
    if (ec) {
      std::lock_guard lock(mu);
      if (stopping) return;
      MCSINK_LOG(WARNING) << "accept failed: " << ec.message();
      continue;
    }
    std::unique_lock lock(mu);
    if (stopping) return;
    if (active >= options.max_connections) {
      // Refusing is better than queueing without bound; clients retry.
      lock.unlock();
      socket.close(ec);
      continue;
    }
    ++active;
    lock.unlock();
    std::thread([this, s = std::make_unique<tcp::socket>(std::move(socket))]() mutable {
      Serve(*s);
      {
        std::lock_guard erase_lock(mu);
        sockets.erase(s.get());
      }
      // The socket refers to `io`: destroy it before Stop() may let the server go away.
      boost::system::error_code ignored;
      s->close(ignored);
      s.reset();
      std::lock_guard done_lock(mu);
      if (--active == 0) idle.notify_all();
    }).detach();
  }
}

void HttpServer::Impl::Serve(tcp::socket& socket) {
  {
    std::lock_guard lock(mu);
    sockets.insert(&socket);
  }
  // Blocking reads and writes give up after the idle timeout.
  timeval tv{};
  tv.tv_sec = options.idle_timeout_seconds;
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  boost::system::error_code ec;
  const std::string remote = [&] {
    auto ep = socket.remote_endpoint(ec);
    return ec ? std::string() : absl::StrCat(ep.address().to_string(), ":", ep.port());
  }();

  beast::flat_buffer buffer;
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(options.max_body_bytes);
    parser.header_limit(64 * 1024);
    http::read(socket, buffer, parser, ec);
    if (ec == http::error::body_limit) {
      http::response<http::string_body> res{http::status::payload_too_large, 11};
      // Answered here, before the handler sees the request, but in the Tunnel's error shape
      // and with a request id like every other answer.
      const std::string id = absl::StrCat("body-limit-", absl::ToUnixNanos(absl::Now()));
      res.set(http::field::content_type, "application/json");
      res.set("x-odps-request-id", id);
      res.body() = absl::StrCat(
          R"({"Code":"DataExceedsLimit","Message":"request body exceeds the server limit of )",
          options.max_body_bytes, R"( bytes; send smaller blocks","RequestId":")", id, R"("})");
      res.keep_alive(false);
      res.prepare_payload();
      http::write(socket, res, ec);
      break;
    }
    if (ec) break;  // closed, timed out or malformed
    auto& req = parser.get();
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    for (const auto& field : req) {
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(req.body());
    request.remote_address = remote;
    const bool keep_alive = req.keep_alive();

    HttpResponse response;
    try {
      response = handler(request);
    } catch (const std::exception& e) {
      MCSINK_LOG(ERROR) << "handler threw on " << request.method << " " << request.target << ": "
                        << e.what();
      response = HttpResponse{};
      response.status = 500;
      response.body = "internal error";
    }
    if (response.drop_connection) break;

    http::response<http::string_body> res;
    res.version(11);
    res.result(static_cast<unsigned>(response.status));
    for (auto& [k, v] : response.headers) res.set(k, v);
    const bool is_head = request.method == "HEAD";
    res.body() = std::move(response.body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    if (is_head) {
      http::response_serializer<http::string_body> sr{res};
      http::write_header(socket, sr, ec);
    } else {
      http::write(socket, res, ec);
    }
    if (ec || !keep_alive) break;
  }
  socket.shutdown(tcp::socket::shutdown_both, ec);
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& address,
                                                              HttpHandler handler,
                                                              HttpServerOptions options) {
  const auto colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(address).substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad listen address '", address, "': expected host:port, e.g. 127.0.0.1:0"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  auto server = std::unique_ptr<HttpServer>(new HttpServer());
  server->impl_ = std::make_unique<Impl>();
  Impl& impl = *server->impl_;
  impl.handler = std::move(handler);
  impl.options = options;
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad listen host '", host, "': ", ec.message(), "; use an IP address"));
  }
  const tcp::endpoint endpoint(ip, static_cast<unsigned short>(port));
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ", ec.message()));
  }
  server->host_ = host;
  server->port_ = impl.acceptor.local_endpoint().port();
  impl.accept_thread = std::thread([&impl] { impl.AcceptLoop(); });
  return server;
}

void HttpServer::Stop() {
  if (!impl_) return;
  Impl& impl = *impl_;
  {
    std::lock_guard lock(impl.mu);
    if (impl.stopping) return;
    impl.stopping = true;
    for (tcp::socket* s : impl.sockets) {
      // shutdown() unblocks the connection thread's read; it closes the socket itself.
      ::shutdown(s->native_handle(), SHUT_RDWR);
    }
  }
  boost::system::error_code ec;
  ::shutdown(impl.acceptor.native_handle(), SHUT_RDWR);
  impl.acceptor.close(ec);
  if (impl.accept_thread.joinable()) impl.accept_thread.join();
  std::unique_lock lock(impl.mu);
  impl.idle.wait(lock, [&impl] { return impl.active == 0; });
}

HttpServer::~HttpServer() { Stop(); }

}  // namespace mclocal
