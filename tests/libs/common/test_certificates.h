// Certificates for TLS tests, made by the openssl CLI into a directory: a CA ("ca"), a server
// certificate for 127.0.0.1 and localhost ("server") and a client certificate ("client") signed by
// it, and another CA ("other-ca") with a client certificate of its own ("other-client"). Each
// certificate has both the serverAuth and clientAuth usages, as the services' certificates need.
// Files: <name>.crt, <name>.key (and <name>.csr, <name>.ext as by-products).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mcsink/common/tls.h"

namespace mcsink::testing {

class TestCertificates {
 public:
  // Makes the certificates in `dir` (created if needed); EC P-256 keys, valid two days.
  static absl::StatusOr<TestCertificates> Create(const std::string& dir) {
    std::filesystem::create_directories(dir);
    TestCertificates certs(dir);
    for (const char* ca : {"ca", "other-ca"}) {
      if (absl::Status s = certs.Run(absl::StrCat("openssl req -x509", kKey, " -keyout ", ca,
                                                  ".key -out ", ca, ".crt -days 2 -subj /CN=", ca));
          !s.ok()) {
        return s;
      }
    }
    for (const auto& [name, ca] : {std::pair{"server", "ca"}, std::pair{"client", "ca"},
                                   std::pair{"other-client", "other-ca"}}) {
      if (absl::Status s = certs.Issue(name, ca); !s.ok()) return s;
    }
    return certs;
  }

  const std::string& dir() const { return dir_; }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  // TlsFiles from file names in the directory ("" stays empty).
  TlsFiles Files(const std::string& cert, const std::string& key, const std::string& ca) const {
    auto path = [this](const std::string& n) { return n.empty() ? n : Path(n); };
    return {.cert_file = path(cert), .key_file = path(key), .ca_file = path(ca)};
  }

 private:
  static constexpr const char* kKey = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

  explicit TestCertificates(std::string dir) : dir_(std::move(dir)) {}

  absl::Status Run(const std::string& command) const {
    const std::string full = absl::StrCat("cd '", dir_, "' && ", command, " 2>>openssl.log");
    if (std::system(full.c_str()) != 0) {
      return absl::InternalError(
          absl::StrCat("openssl failed (see ", dir_, "/openssl.log): ", full));
    }
    return absl::OkStatus();
  }

  absl::Status Issue(const std::string& name, const std::string& ca) const {
    const std::string san = name == "server" ? "IP:127.0.0.1,DNS:localhost" : "DNS:mcsink-" + name;
    std::ofstream(Path(name + ".ext")) << "subjectAltName=" << san
                                       << "\nextendedKeyUsage=serverAuth,clientAuth\n"
                                          "basicConstraints=CA:FALSE\n";
    if (absl::Status s = Run(absl::StrCat("openssl req", kKey, " -keyout ", name, ".key -out ",
                                          name, ".csr -subj /CN=", name));
        !s.ok()) {
      return s;
    }
    return Run(absl::StrCat("openssl x509 -req -in ", name, ".csr -CA ", ca, ".crt -CAkey ", ca,
                            ".key -CAcreateserial -days 2 -out ", name, ".crt -extfile ", name,
                            ".ext"));
  }

  std::string dir_;
};

}  // namespace mcsink::testing
