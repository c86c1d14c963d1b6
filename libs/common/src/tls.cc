#include "mcsink/common/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "mcsink/common/status.h"

namespace mcsink {
namespace {

// PEM certificates and keys are a few KiB; anything this big is the wrong file.
constexpr long kMaxPemBytes = 1 << 20;

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

// `what` names the file's role in messages, e.g. "TLS certificate file".
absl::StatusOr<std::string> ReadPemFile(const std::string& path, const char* what) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (f == nullptr) {
    const int err = errno;
    const std::string message = absl::StrCat(
        "cannot read ", what, " '", path, "': ", std::strerror(err),
        err == ENOENT ? " (check the path, and that the Secret is mounted there)" : "");
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::InvalidArgumentError(message);
  }
  std::string data;
  char buf[16384];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    data.append(buf, n);
    if (static_cast<long>(data.size()) > kMaxPemBytes) {
      return absl::InvalidArgumentError(absl::StrCat(what, " '", path, "' is larger than ",
                                                     kMaxPemBytes, " bytes: not a PEM file"));
    }
  }
  if (std::ferror(f.get())) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", what, " '", path, "': ", std::strerror(errno)));
  }
  return data;
}

// The OpenSSL error queue as text (and cleared), for messages.
std::string OpenSslErrors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    absl::StrAppend(&out, out.empty() ? "" : "; ", buf);
  }
  return out.empty() ? "no PEM block of that kind" : out;
}

std::unique_ptr<BIO, BioFree> MemBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every certificate in `pem`, in order; an error names `path` when there is none or one is bad.
absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(const std::string& pem,
                                                       const std::string& path, const char* what) {
  ERR_clear_error();
  auto bio = MemBio(pem);
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  // Reading stops with "no start line" at the end of the data; anything else is a damaged block.
  const unsigned long last = ERR_peek_last_error();
  if (certs.empty() || (last != 0 && ERR_GET_REASON(last) != PEM_R_NO_START_LINE)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", path, "' does not hold valid PEM certificates (",
                     certs.empty() ? OpenSslErrors() : "a damaged block: " + OpenSslErrors(),
                     "); expected blocks of -----BEGIN CERTIFICATE-----"));
  }
  ERR_clear_error();
  return certs;
}

absl::Status CheckNotExpired(X509* cert, const std::string& path) {
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the certificate in TLS certificate file '", path,
                     "' has expired; renew it (files are read at start: restart after renewing)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TlsConfig> TlsConfig::Load(const TlsFiles& files) {
  TlsConfig config;
  if (files.cert_file.empty() && files.key_file.empty() && files.ca_file.empty()) return config;
  if (files.cert_file.empty() != files.key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a TLS certificate file and a key file go together, but only the ",
                     files.cert_file.empty() ? "key file '" + files.key_file + "'"
                                             : "certificate file '" + files.cert_file + "'",
                     " is given"));
  }
  config.enabled_ = true;
  config.files_ = files;
  if (!files.cert_file.empty()) {
    MCSINK_ASSIGN_OR_RETURN(config.cert_pem_, ReadPemFile(files.cert_file, "TLS certificate file"));
    MCSINK_ASSIGN_OR_RETURN(config.key_pem_, ReadPemFile(files.key_file, "TLS key file"));
    MCSINK_ASSIGN_OR_RETURN(const auto chain, ParseCertificates(config.cert_pem_, files.cert_file,
                                                                "TLS certificate file"));
    MCSINK_RETURN_IF_ERROR(CheckNotExpired(chain.front().get(), files.cert_file));
    ERR_clear_error();
    auto bio = MemBio(config.key_pem_);
    // A passphrase callback that gives none: an encrypted key fails here instead of OpenSSL
    // prompting for a passphrase on the terminal.
    std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(
        bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
    if (key == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("TLS key file '", files.key_file,
                       "' does not hold an unencrypted PEM private key (", OpenSslErrors(), ")"));
    }
    if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          absl::StrCat("the private key in TLS key file '", files.key_file,
                       "' does not belong to the certificate in '", files.cert_file,
                       "'; give the key the certificate was issued for"));
    }
  }
  if (!files.ca_file.empty()) {
    MCSINK_ASSIGN_OR_RETURN(config.ca_pem_, ReadPemFile(files.ca_file, "TLS CA file"));
    MCSINK_RETURN_IF_ERROR(
        ParseCertificates(config.ca_pem_, files.ca_file, "TLS CA file").status());
  }
  return config;
}

std::shared_ptr<grpc::ServerCredentials> TlsConfig::ServerCredentials() const {
  if (!enabled_) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      verifies_peers() ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                       : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_root_certs = ca_pem_;
  options.pem_key_cert_pairs.push_back({key_pem_, cert_pem_});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> TlsConfig::ChannelCredentials() const {
  if (!enabled_) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ca_pem_;  // empty: gRPC's default roots
  options.pem_private_key = key_pem_;
  options.pem_cert_chain = cert_pem_;
  return grpc::SslCredentials(options);
}

std::shared_ptr<grpc::Channel> CreateChannel(const std::string& address, const TlsConfig& tls) {
  return grpc::CreateChannel(address, tls.ChannelCredentials());
}

}  // namespace mcsink
