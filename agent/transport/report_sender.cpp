#include "transport/report_sender.hpp"

#include <nlohmann/json.hpp>

namespace postured::transport {
namespace {

namespace http = boost::beast::http;

std::string describe_status(const HttpResponse& response) {
  const auto body = nlohmann::json::parse(response.body, nullptr, false);
  std::string text = "the console answered " + std::to_string(response.status);
  if (body.is_object() && body.contains("error") && body["error"].is_string()) {
    text += " " + body["error"].get<std::string>();
    if (body.contains("message") && body["message"].is_string()) text += ": " + body["message"].get<std::string>();
  }
  return text;
}

}  // namespace

ReportSender::ReportSender(ReportSpool& spool, SenderSettings settings)
    : spool_(spool), settings_(std::move(settings)), backoff_(settings_.retry_min, settings_.retry_max) {}

void ReportSender::reset_connection() {
  if (client_) {
    connections_opened_ += client_->connections_opened();
    client_->close();
  }
  client_.reset();
}

void ReportSender::set_ca_pem(std::string ca_pem) {
  if (ca_pem == settings_.ca_pem) return;
  settings_.ca_pem = std::move(ca_pem);
  reset_connection();
}

SendPass ReportSender::send_pending(const TlsIdentity& identity, std::stop_token stop, const Sleep& sleep) {
  SendPass pass;
  const auto fail = [&](std::string error, std::optional<std::chrono::seconds> retry_after) {
    pass.error = std::move(error);
    const auto backoff = backoff_.next_delay();
    if (retry_after) {
      // The console knows its load: its wait is obeyed as given, not shortened by our jitter.
      pass.retry_in = std::chrono::duration_cast<std::chrono::milliseconds>(*retry_after);
      pass.retry_after_obeyed = true;
    } else {
      pass.retry_in = backoff;
    }
    spool_.note_error(pass.error);
    return pass;
  };
  if (!client_ || client_certificate_ != identity.certificate_pem) {
    reset_connection();
    try {
      client_ = std::make_unique<HttpsClient>(settings_.endpoint, TlsConfig::client(settings_.ca_pem, &identity),
                                              settings_.http);
    } catch (const TlsConfigError& e) {
      return fail(std::string("the console CA or this device's identity cannot be used: ") + e.what(), std::nullopt);
    }
    client_certificate_ = identity.certificate_pem;
  }
  std::size_t in_batch = 0;
  while (!stop.stop_requested()) {
    const auto batch = spool_.oldest(settings_.batch);
    if (batch.empty()) {
      pass.drained = true;
      return pass;
    }
    for (const auto& report : batch) {
      if (stop.stop_requested()) return pass;
      if (in_batch == settings_.batch) {
        // A backlog goes out at a bounded rate; the connection stays open across the pause.
        if (!sleep(settings_.pause)) return pass;
        in_batch = 0;
      }
      auto result = client_->request(http::verb::post, "/v1/reports", report.body_gzip,
                                     {{"Content-Type", "application/json"}, {"Content-Encoding", "gzip"}});
      if (!result.ok()) {
        client_->close();
        return fail(result.error().message, std::nullopt);
      }
      const auto& response = result.response();
      if (response.status / 100 == 2) {
        const auto body = nlohmann::json::parse(response.body, nullptr, false);
        const bool same = body.is_object() && body.contains("report_id") && body["report_id"].is_string() &&
                          body["report_id"].get<std::string>() == report.report_id;
        if (!same) {
          return fail("the console answered " + std::to_string(response.status) + " without confirming report " +
                          report.report_id + "; it stays spooled",
                      std::nullopt);
        }
        spool_.confirm(report.report_id);
        backoff_.reset();
        ++pass.sent;
        ++in_batch;
        continue;
      }
      const auto answer = nlohmann::json::parse(response.body, nullptr, false);
      const std::string code = answer.is_object() && answer.contains("error") && answer["error"].is_string()
                                   ? answer["error"].get<std::string>()
                                   : std::string();
      // 400/413: the document itself is refused. device_mismatch: it was made under a device id this
      // certificate no longer carries (the device re-enrolled as another). report_id_conflict: the id
      // belongs to another device. Sending it again would get the same answer, and keeping it would
      // block every later report.
      if (response.status == 400 || response.status == 413 || (response.status == 403 && code == "device_mismatch") ||
          (response.status == 409 && code == "report_id_conflict")) {
        spool_.reject(report.report_id);
        spool_.note_error(describe_status(response) + " (report " + report.report_id + " dropped)");
        ++pass.rejected;
        continue;
      }
      const bool busy = response.status == 429 || response.status == 503;
      return fail(describe_status(response), busy ? response.retry_after : std::nullopt);
    }
  }
  return pass;
}

}  // namespace postured::transport
