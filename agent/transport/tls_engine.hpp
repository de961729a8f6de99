// The synchronous half of TlsStream: one mbedTLS context whose BIO callbacks read from and write to
// two byte buffers in memory. mbedTLS never touches the socket; TlsStream moves the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transport/certificate_problem.hpp"
#include "transport/tls_config.hpp"

struct mbedtls_ssl_context;

namespace postured::transport {

// Who the peer's certificate names, for a server that binds identity to it (the console takes the
// device id from CN and the store from OU). Set only for a certificate that verified.
struct PeerIdentity {
  std::string common_name;
  std::string organizational_unit;
  std::string serial;  // serial_hex() form
};

class TlsEngine {
 public:
  // What the caller must do before calling the same operation again (or that it is finished).
  enum class Want {
    done,    // `result` is final: >= 0 bytes (0 for handshake and shutdown), < 0 an mbedTLS error
    output,  // send pending_output() first; then call again, or finish if `result` is final
    input,   // receive more bytes into input_space() first
    again,   // nothing to move: call again at once (a TLS 1.3 ticket was taken in)
  };
  struct Step {
    Want want;
    int result;
    bool final;  // with Want::output: `result` is the operation's outcome once the output is sent
  };

  // `expected_host` is the name the client verifies in the peer's certificate (and sends as SNI);
  // servers pass an empty string.
  TlsEngine(std::shared_ptr<const TlsConfig> config, const std::string& expected_host);
  ~TlsEngine();
  TlsEngine(const TlsEngine&) = delete;
  TlsEngine& operator=(const TlsEngine&) = delete;

  Step handshake();
  Step read(unsigned char* data, std::size_t size);
  Step write(const unsigned char* data, std::size_t size);
  Step shutdown();

  // Bytes mbedTLS produced that must go to the peer.
  const unsigned char* pending_output() const { return output_.data() + output_sent_; }
  std::size_t pending_output_size() const { return output_.size() - output_sent_; }
  void consume_output(std::size_t n);
  // Room for bytes from the peer; commit_input() says how many arrived.
  unsigned char* input_space(std::size_t& size);
  void commit_input(std::size_t n) { input_end_ += n; }

  bool handshake_done() const { return handshake_done_; }
  bool close_notify_received() const { return close_notify_; }
  // After a handshake that failed on the peer's certificate: the explanation; empty otherwise.
  const std::string& certificate_problem() const { return certificate_problem_; }
  // The peer's certificate as the last handshake saw it (kept here: TLS 1.3 may not keep it).
  const std::optional<CertificateSummary>& peer_certificate() const { return verify_.leaf; }
  // The verified peer certificate's CN, OU and serial, set once the handshake completed with a verify
  // result of 0; empty when the peer presented none.
  const std::optional<PeerIdentity>& peer_identity() const { return peer_identity_; }
  // The fatal alert the peer sent (RFC 8446 6: 40 handshake_failure, 48 unknown_ca, 116
  // certificate_required, ...), or -1.
  int peer_alert() const { return peer_alert_; }
  std::string protocol() const;     // "TLSv1.3"
  std::string ciphersuite() const;  // "TLS1-3-AES-256-GCM-SHA384"

  // Staging for the write in progress: a scattered buffer sequence is gathered here, one record's worth.
  std::vector<unsigned char>& write_staging() { return write_staging_; }

 private:
  static int send_callback(void* self, const unsigned char* data, std::size_t size);
  static int receive_callback(void* self, unsigned char* data, std::size_t size);
  static int verify_callback(void* self, struct mbedtls_x509_crt* certificate, int depth, std::uint32_t* flags);
  Step step(int rc);
  void note_alert(int rc);

  std::shared_ptr<const TlsConfig> config_;
  std::unique_ptr<mbedtls_ssl_context> ssl_;
  std::string expected_host_;
  std::vector<unsigned char> output_;
  std::size_t output_sent_ = 0;
  std::vector<unsigned char> input_;
  std::size_t input_begin_ = 0;
  std::size_t input_end_ = 0;
  std::vector<unsigned char> write_staging_;
  VerifyOutcome verify_;
  std::optional<PeerIdentity> candidate_identity_;  // from the verify callback, before the handshake ends
  std::optional<PeerIdentity> peer_identity_;
  std::string certificate_problem_;
  int peer_alert_ = -1;
  bool handshake_done_ = false;
  bool close_notify_ = false;
};

}  // namespace postured::transport
