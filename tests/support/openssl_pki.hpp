// Certificates for TLS tests, made by the openssl CLI (a second TLS stack, not the code under test):
// a CA, a server certificate for localhost and 127.0.0.1, a client certificate, and the bad cases
// (expired, not yet valid, from another CA, for another host).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace postured::test {

class OpensslPki {
 public:
  OpensslPki() {
    std::string pattern = (std::filesystem::temp_directory_path() / "postured-pki-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    make_ca("ca", "/CN=Postured Test CA/O=Postured Tests");
    make_ca("other-ca", "/CN=Other CA/O=Someone Else");
    const std::string server_san = "subjectAltName=DNS:localhost,IP:127.0.0.1";
    make_leaf("server", "ca", "/CN=console/O=Postured Tests", server_san, "serverAuth");
    make_leaf("client", "ca", "/CN=device-1/O=store-7", "", "clientAuth");
    make_leaf("other-server", "other-ca", "/CN=console/O=Someone Else", server_san, "serverAuth");
    make_leaf("other-client", "other-ca", "/CN=device-1/O=store-7", "", "clientAuth");
    make_leaf("wrong-host", "ca", "/CN=wrong.example", "subjectAltName=DNS:wrong.example,DNS:www.wrong.example",
              "serverAuth");
    make_dated("expired", "20200101000000Z", "20210101000000Z");
    make_dated("future", "20990101000000Z", "20991231000000Z");
  }
  ~OpensslPki() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  OpensslPki(const OpensslPki&) = delete;
  OpensslPki& operator=(const OpensslPki&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  // "<dir>/<name>.pem" and "<dir>/<name>.key" for every name made above.
  std::string cert(const std::string& name) const { return (dir_ / (name + ".pem")).string(); }
  std::string key(const std::string& name) const { return (dir_ / (name + ".key")).string(); }
  std::string read(const std::string& path) const {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  static void openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/openssl");
    const auto ran = run(args);
    if (ran.exit_code != 0) throw std::runtime_error("openssl " + args.at(1) + " failed: " + ran.err);
  }

 private:
  std::string path(const std::string& file) const { return (dir_ / file).string(); }
  void new_key(const std::string& name) {
    openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key(name)});
  }
  void make_ca(const std::string& name, const std::string& subject) {
    new_key(name);
    openssl({"req", "-x509", "-new", "-key", key(name), "-subj", subject, "-days", "3650", "-sha256", "-addext",
             "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out",
             cert(name)});
  }
  void write_extensions(const std::string& name, const std::string& san, const std::string& usage) {
    std::ofstream ext(path(name + ".ext"));
    ext << "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=" << usage << "\n";
    if (!san.empty()) ext << san << "\n";
  }
  void make_leaf(const std::string& name, const std::string& ca, const std::string& subject, const std::string& san,
                 const std::string& usage) {
    new_key(name);
    openssl({"req", "-new", "-key", key(name), "-subj", subject, "-out", path(name + ".csr")});
    write_extensions(name, san, usage);
    openssl({"x509", "-req", "-in", path(name + ".csr"), "-CA", cert(ca), "-CAkey", key(ca), "-CAcreateserial", "-days",
             "30", "-sha256", "-extfile", path(name + ".ext"), "-out", cert(name)});
  }
  // A server certificate from the good CA valid only between two fixed dates: `openssl ca` can set
  // them, `openssl x509` cannot (OpenSSL 3.0).
  void make_dated(const std::string& name, const std::string& start, const std::string& end) {
    new_key(name);
    openssl({"req", "-new", "-key", key(name), "-subj", "/CN=console/O=Postured Tests", "-out", path(name + ".csr")});
    write_extensions(name, "subjectAltName=DNS:localhost,IP:127.0.0.1", "serverAuth");
    std::filesystem::create_directories(dir_ / "issued");
    std::ofstream(path("index.txt"), std::ios::trunc).close();
    std::ofstream(path("serial"), std::ios::trunc) << "1000\n";
    std::ofstream(path("ca.cnf"), std::ios::trunc)
        << "[ca]\ndefault_ca = dated\n[dated]\ndatabase = " << path("index.txt")
        << "\nnew_certs_dir = " << path("issued") << "\nserial = " << path("serial")
        << "\ndefault_md = sha256\npolicy = any\nunique_subject = no\n[any]\ncommonName = supplied\n"
           "organizationName = optional\n";
    openssl({"ca", "-batch", "-notext", "-config", path("ca.cnf"), "-cert", cert("ca"), "-keyfile", key("ca"), "-in",
             path(name + ".csr"), "-startdate", start, "-enddate", end, "-extfile", path(name + ".ext"), "-out",
             cert(name)});
  }

  std::filesystem::path dir_;
};

}  // namespace postured::test
