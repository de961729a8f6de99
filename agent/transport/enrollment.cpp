#include "transport/enrollment.hpp"

#include <nlohmann/json.hpp>

#include "core/text.hpp"

namespace postured::transport {
namespace {

namespace http = boost::beast::http;

EnrollmentOutcome failure(std::string code, std::string message, int exit_code) {
  EnrollmentOutcome outcome;
  outcome.error_code = std::move(code);
  outcome.message = std::move(message);
  outcome.exit_code = exit_code;
  return outcome;
}

std::string transport_code(TransportError::Kind kind) {
  switch (kind) {
    case TransportError::Kind::resolve: return "resolve";
    case TransportError::Kind::connect: return "connect";
    case TransportError::Kind::certificate: return "certificate";
    case TransportError::Kind::tls: return "tls";
    case TransportError::Kind::timeout: return "timeout";
    case TransportError::Kind::closed: return "closed";
    case TransportError::Kind::http: return "http";
  }
  return "transport";
}

// Sends `csr` to `target_path` and stores the certificate that comes back with `key`.
EnrollmentOutcome exchange(const EnrollmentTarget& target, const TlsIdentity* identity, const char* target_path,
                           nlohmann::json request, const SecretString& key, const ClientIdentityStore& store) {
  std::shared_ptr<const TlsConfig> tls;
  try {
    tls = TlsConfig::client(target.ca_pem, identity);
  } catch (const TlsConfigError& e) {
    return failure("bad_ca", std::string("the console CA or this device's identity cannot be used: ") + e.what(), 2);
  }
  const auto device_time = text::rfc3339_utc(std::chrono::system_clock::now());
  request["device_time"] = device_time;
  HttpsClient client(target.endpoint, tls, target.http);
  auto result = client.request(http::verb::post, target_path, request.dump(), {{"Content-Type", "application/json"}});
  client.close();
  if (!result.ok()) {
    return failure(transport_code(result.error().kind), result.error().message, 3);
  }
  const auto& response = result.response();
  const auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (response.status != 200) {
    const auto field = [&](const char* name) {
      return body.is_object() && body.contains(name) && body[name].is_string() ? body[name].get<std::string>()
                                                                               : std::string();
    };
    const auto code = field("error").empty() ? "http_" + std::to_string(response.status) : field("error");
    const bool wrong_input =
        code == "token_unknown" || code == "token_expired" || code == "token_used_up" || code == "wrong_store" ||
        code == "device_exists";
    return failure(code,
                   explain_enrollment_error(code, field("message"), device_time, field("server_time"), target.store_id,
                                            target.device_id),
                   wrong_input ? 2 : 3);
  }
  if (!body.is_object() || !body.contains("certificate_pem") || !body["certificate_pem"].is_string()) {
    return failure("bad_response", "the console answered 200 without a certificate_pem", 3);
  }
  const auto certificate = body["certificate_pem"].get<std::string>();
  std::string error;
  auto facts = certificate_facts(certificate, error);
  if (!facts) return failure("bad_response", "the console's certificate: " + error, 3);
  if (facts->common_name != target.device_id || facts->organizational_unit != target.store_id) {
    return failure("bad_response",
                   "the console issued a certificate for \"" + facts->subject + "\", not for CN=" + target.device_id +
                       ", OU=" + target.store_id,
                   3);
  }
  if (const auto stored = store.store(certificate, key); !stored.empty()) return failure("store", stored, 3);
  EnrollmentOutcome outcome;
  outcome.certificate = std::move(facts);
  return outcome;
}

}  // namespace

std::string explain_enrollment_error(const std::string& code, const std::string& console_message,
                                     const std::string& device_time, const std::string& server_time,
                                     const std::string& store_id, const std::string& device_id) {
  const std::string said = console_message.empty() ? "" : " (console: " + console_message + ")";
  if (code == "token_unknown") {
    return "The console does not know this enrollment token: it was mistyped, or made by another console. Make one "
           "with `posture-console token create --store " +
           store_id + "`" + said + ".";
  }
  if (code == "token_expired") {
    return "The enrollment token has expired. Make a new one with `posture-console token create --store " + store_id +
           "`" + said + ".";
  }
  if (code == "token_used_up") {
    return "The enrollment token has already been used as many times as it allows. Make a new one with "
           "`posture-console token create --store " +
           store_id + " --uses N`" + said + ".";
  }
  if (code == "clock_skew") {
    return "This device's clock and the console's disagree by more than the console allows: this device said " +
           device_time + ", the console's clock read " + (server_time.empty() ? "(not sent)" : server_time) +
           ". Set the clock (NTP) and enroll again" + said + ".";
  }
  if (code == "wrong_store") {
    return "The token was made for another store than this device's agent.store_id \"" + store_id +
           "\": use a token made with --store " + store_id + said + ".";
  }
  if (code == "device_revoked") {
    return "The console has revoked this device; central IT must lift the revocation before it can enroll" + said + ".";
  }
  if (code == "device_exists") {
    // 409: the console refuses to hand a second certificate for a device id that holds a valid one,
    // so that no token holder can take over another terminal's identity.
    return "The console already has a valid certificate for this device; if this terminal was reinstalled, ask "
           "central IT to run `posture-console device release " +
           (device_id.empty() ? std::string("<device id>") : device_id) + "`" +
           said + ".";
  }
  if (code == "bad_csr") return "The console refused the certificate request" + said + ".";
  return "The console refused: " + code + said + ".";
}

EnrollmentOutcome enroll(const EnrollmentTarget& target, const std::string& token, const ClientIdentityStore& store) {
  if (token.empty()) return failure("token_missing", "no enrollment token given", 2);
  try {
    const auto key = generate_device_key();
    nlohmann::json request;
    request["token"] = token;
    request["csr_pem"] = make_csr(key, target.device_id, target.store_id);
    return exchange(target, nullptr, "/v1/enroll", std::move(request), key, store);
  } catch (const TlsConfigError& e) {
    return failure("key", e.what(), 3);
  }
}

EnrollmentOutcome renew(const EnrollmentTarget& target, const StoredIdentity& current,
                        const ClientIdentityStore& store) {
  try {
    const auto key = generate_device_key();
    nlohmann::json request;
    // The subject must be the current certificate's, whatever the configuration says now.
    request["csr_pem"] = make_csr(key, current.facts.common_name, current.facts.organizational_unit);
    auto same_subject = target;
    same_subject.device_id = current.facts.common_name;
    same_subject.store_id = current.facts.organizational_unit;
    return exchange(same_subject, &current.identity, "/v1/renew", std::move(request), key, store);
  } catch (const TlsConfigError& e) {
    return failure("key", e.what(), 3);
  }
}

}  // namespace postured::transport
