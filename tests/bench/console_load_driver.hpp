// The load generator of console_load_bench: C concurrent keep-alive connections, each a simulated
// device presenting its own certificate over the project's TLS stack (TlsStream + Beast, TlsConfig::client
// with the device's identity), posting postured.report/v1 documents (gzip, a new report_id each) and
// timing every request. It keeps a ledger of which report ids the server acknowledged, so that the
// bench can check afterwards that the console stored exactly those: none lost, none twice.
//
// All connections run as C++20 coroutines on one io_context and one thread: the generator shares the
// machine's cores with the server under test and should take as little of them as it can.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "console_load_report.hpp"
#include "core/asio.hpp"
#include "core/text.hpp"
#include "transport/http_message.hpp"
#include "transport/tls_config.hpp"
#include "transport/tls_stream.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace postured::bench {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using LoadClock = std::chrono::steady_clock;

// The generator's fixed choices, each with why.
struct LoadLimits {
  // A connection that fails this many times in a row for one device gives that device up for the run
  // (each failure is counted as an error): a dead server must end the run, not spin it.
  static constexpr int kMaxConnectionFailures = 3;
  // A 503's Retry-After is honoured up to this long: the bench measures, it does not wait out minutes.
  static constexpr std::chrono::milliseconds kMaxRetryAfterWait{2000};
  // Without a Retry-After, a 503 waits this long before the report is sent again.
  static constexpr std::chrono::milliseconds kDefaultOverloadWait{100};
  // What a console answer may hold; it is a small JSON document.
  static constexpr std::size_t kMaxResponseBody = 64 * 1024;
};

// One simulated device: its identity (from enrollment or the local CA) and its report's fixed part.
struct SimulatedDevice {
  std::string id;
  std::string store_id;
  std::string key_pem;
  std::string csr_pem;
  std::string certificate_pem;
  CompressedRest rest;
};

// What the server said about a device's reports.
struct DeviceLedger {
  std::vector<std::string> acknowledged;  // 200 stored/duplicate or 204: the server holds it
  std::vector<std::string> unconfirmed;   // sent, but no answer came (timeout, closed): may be stored
  std::vector<std::string> refused;       // a 4xx/5xx other than 503: must not be stored
};

struct LoadPlan {
  std::size_t connections = 8;
  // Duration mode when non-zero: every connection posts until it is over.
  std::chrono::milliseconds duration{0};
  // Count mode (duration zero): every device posts this many reports, on one connection.
  std::size_t reports_per_device = 0;
  // Duration mode with more devices than connections: a connection moves to its next device after
  // this many reports. With no more devices than connections, each connection keeps its device.
  std::size_t reports_per_connection = 50;
};

struct LoadTarget {
  std::string label;  // "console (sqlite)", "nginx"
  std::uint16_t port = 0;
  bool answers_json = true;  // the console: 200 with {"status"}; nginx: 204
};

struct LoadResult {
  std::size_t acknowledged = 0;
  std::size_t duplicate_answers = 0;  // "duplicate" for a report id sent once only: a console bug
  std::size_t errors = 0;             // transport failures and refusals
  std::size_t overloaded = 0;         // 503 answers (the report is sent again after Retry-After)
  std::size_t connections = 0;        // TLS connections established
  double seconds = 0;
  std::vector<std::uint32_t> latency_us;  // per acknowledged report, write start to answer read
  std::map<std::string, std::size_t> error_kinds;
  std::string protocol;
  std::string ciphersuite;
  std::vector<DeviceLedger> ledgers;  // index = device index

  double reports_per_second() const { return seconds > 0 ? static_cast<double>(acknowledged) / seconds : 0; }
  double percentile_ms(double p) {
    if (latency_us.empty()) return 0;
    std::sort(latency_us.begin(), latency_us.end());
    const auto at = static_cast<std::size_t>(p * static_cast<double>(latency_us.size() - 1) + 0.5);
    return static_cast<double>(latency_us[at]) / 1000.0;
  }
};

class LoadRun {
 public:
  LoadRun(std::vector<SimulatedDevice>& devices, std::string ca_pem, LoadTarget target, LoadPlan plan)
      : devices_(devices), ca_pem_(std::move(ca_pem)), target_(std::move(target)), plan_(plan) {
    result_.ledgers.resize(devices_.size());
  }

  LoadResult run() {
    const std::size_t workers = std::min(plan_.connections, devices_.size());
    started_ = LoadClock::now();
    last_answer_ = started_;
    asio::steady_timer stop_timer(io_);
    if (plan_.duration.count() > 0) {
      stop_timer.expires_after(plan_.duration);
      stop_timer.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) stopping_ = true;
      });
    }
    std::size_t running = workers;
    for (std::size_t w = 0; w < workers; ++w) {
      asio::co_spawn(io_, worker(w, workers), [&](std::exception_ptr failure) {
        if (failure) {
          try {
            std::rethrow_exception(failure);
          } catch (const std::exception& e) {
            count_error(std::string("worker stopped: ") + e.what());
          }
        }
        if (--running == 0) stop_timer.cancel();
      });
    }
    io_.run();
    result_.seconds = std::chrono::duration<double>(last_answer_ - started_).count();
    return std::move(result_);
  }

 private:
  struct PendingReport {
    std::string id;
    std::string body;
    bool resent = false;  // sent before without an answer: a "duplicate" answer is then expected
  };

  bool duration_mode() const { return plan_.duration.count() > 0; }

  asio::awaitable<void> worker(std::size_t first, std::size_t workers) {
    std::size_t cursor = first;
    const bool rotating = devices_.size() > workers;
    for (;;) {
      std::size_t quota = plan_.reports_per_device;
      if (duration_mode()) quota = rotating ? plan_.reports_per_connection : std::numeric_limits<std::size_t>::max();
      co_await serve_device(cursor, quota);
      if (duration_mode() && stopping_) co_return;
      cursor += workers;
      if (cursor >= devices_.size()) {
        if (!duration_mode()) co_return;
        cursor = first;
      }
    }
  }

  PendingReport next_report(SimulatedDevice& device) {
    PendingReport report;
    report.id = uuids_.next();
    report.body = splicer_.body(report_prefix(report.id, generated_at()), device.rest);
    return report;
  }

  // RFC 3339 "now", made once per second: formatting it per report would be wasted work.
  const std::string& generated_at() {
    const auto now = std::chrono::system_clock::now();
    const auto second = std::chrono::floor<std::chrono::seconds>(now);
    if (second != generated_second_) {
      generated_second_ = second;
      generated_text_ = text::rfc3339_utc(second);
    }
    return generated_text_;
  }

  void count_error(const std::string& kind) {
    ++result_.errors;
    ++result_.error_kinds[kind];
  }

  // Opens connections as `device` until it has posted `quota` reports (or the run is over).
  asio::awaitable<void> serve_device(std::size_t index, std::size_t quota) {
    SimulatedDevice& device = devices_[index];
    DeviceLedger& ledger = result_.ledgers[index];
    const transport::TlsIdentity identity{device.certificate_pem, SecretString(device.key_pem)};
    const auto tls = transport::TlsConfig::client(ca_pem_, &identity);
    const auto executor = co_await asio::this_coro::executor;
    std::optional<PendingReport> pending;
    std::size_t done = 0;
    int failures = 0;
    const auto over = [&] { return done >= quota || (duration_mode() && stopping_); };
    while (!over() && failures < LoadLimits::kMaxConnectionFailures) {
      transport::TlsStream stream(executor, tls, "127.0.0.1");
      boost::system::error_code ec;
      const char* step = "connect";
      try {
        co_await stream.next_layer().async_connect({asio::ip::make_address("127.0.0.1"), target_.port},
                                                   asio::use_awaitable);
        stream.next_layer().set_option(asio::ip::tcp::no_delay(true));
        step = "handshake";
        co_await stream.async_handshake(asio::use_awaitable);
        ++result_.connections;
        if (result_.protocol.empty()) {
          result_.protocol = stream.engine().protocol();
          result_.ciphersuite = stream.engine().ciphersuite();
        }
        boost::beast::flat_buffer buffer;
        bool keep_alive = true;
        while (keep_alive && !over()) {
          if (!pending) pending = next_report(device);
          http::request<http::string_body> request{http::verb::post, "/v1/reports", 11};
          request.set(http::field::host, "127.0.0.1:" + std::to_string(target_.port));
          request.set(http::field::user_agent, "postured/0.1.0 (console_load_bench)");
          request.set(http::field::content_type, "application/json");
          request.set(http::field::content_encoding, "gzip");
          request.keep_alive(true);
          request.body() = pending->body;
          request.prepare_payload();
          const auto sent_at = LoadClock::now();
          step = "sending the report";
          co_await http::async_write(stream, request, asio::use_awaitable);
          step = "reading the answer";
          http::response_parser<http::string_body> parser;
          parser.body_limit(LoadLimits::kMaxResponseBody);
          co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
          const auto answered_at = LoadClock::now();
          auto response = parser.release();
          keep_alive = response.keep_alive();
          const unsigned status = response.result_int();
          failures = 0;
          if (status == 503) {
            ++result_.overloaded;
            auto wait = std::chrono::milliseconds(LoadLimits::kDefaultOverloadWait);
            const auto retry_after = transport::parse_retry_after(std::string(response[http::field::retry_after]),
                                                                  std::chrono::system_clock::now());
            if (retry_after) wait = std::min<std::chrono::milliseconds>(*retry_after, LoadLimits::kMaxRetryAfterWait);
            asio::steady_timer pause(executor, wait);
            co_await pause.async_wait(asio::use_awaitable);
            continue;  // the same report again
          }
          const bool accepted = target_.answers_json ? status == 200 : status == 204;
          if (!accepted) {
            count_error("HTTP " + std::to_string(status) + " " + response.body().substr(0, 160));
            ledger.refused.push_back(pending->id);
            pending.reset();
            ++done;
            continue;
          }
          if (target_.answers_json) {
            const auto answer = nlohmann::json::parse(response.body(), nullptr, false);
            const std::string outcome = answer.is_object() ? answer.value("status", "") : "";
            if (outcome == "duplicate" && !pending->resent) ++result_.duplicate_answers;
            if (outcome != "stored" && outcome != "duplicate") {
              count_error("HTTP 200 without a status: " + response.body().substr(0, 160));
              ledger.unconfirmed.push_back(pending->id);
              pending.reset();
              ++done;
              continue;
            }
          }
          ledger.acknowledged.push_back(pending->id);
          pending.reset();
          ++done;
          ++result_.acknowledged;
          last_answer_ = answered_at;
          result_.latency_us.push_back(static_cast<std::uint32_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(answered_at - sent_at).count()));
        }
        if (keep_alive) co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
      } catch (const boost::system::system_error& e) {
        ++failures;
        std::string kind = std::string(step) + ": " + e.code().message();
        if (!stream.engine().certificate_problem().empty()) kind += " (" + stream.engine().certificate_problem() + ")";
        count_error(kind);
        // Sent (perhaps stored) without an answer: the next connection sends it again, and "duplicate"
        // is then a correct answer.
        if (pending && step != std::string_view("connect") && step != std::string_view("handshake"))
          pending->resent = true;
      }
    }
    if (pending) ledger.unconfirmed.push_back(pending->id);
  }

  std::vector<SimulatedDevice>& devices_;
  std::string ca_pem_;
  LoadTarget target_;
  LoadPlan plan_;
  asio::io_context io_;
  bool stopping_ = false;
  LoadClock::time_point started_;
  LoadClock::time_point last_answer_;
  GzipSplicer splicer_;
  UuidSource uuids_;
  std::chrono::system_clock::time_point generated_second_{};
  std::string generated_text_;
  LoadResult result_;
};

}  // namespace postured::bench
