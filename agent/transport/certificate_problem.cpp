#include "transport/certificate_problem.hpp"

#include <mbedtls/oid.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "core/asio.hpp"
#include "core/text.hpp"

namespace postured::transport {
namespace {

std::string dn(const mbedtls_x509_name& name) {
  char text[512];
  const int n = mbedtls_x509_dn_gets(text, sizeof text, &name);
  return n > 0 ? std::string(text, static_cast<std::size_t>(n)) : std::string("(unreadable name)");
}

std::string when(const mbedtls_x509_time& t) {
  char text[40];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d UTC", t.year, t.mon, t.day, t.hour, t.min, t.sec);
  return text;
}

// "2026-11-26 07:17:19 UTC", the form when() prints certificate times in.
std::string now_utc() {
  auto text = text::rfc3339_utc(std::chrono::system_clock::now());  // "2026-11-26T07:17:19Z"
  text[10] = ' ';
  text.pop_back();
  return text + " UTC";
}

// Asio's address types print as inet_ntop() does, on every platform.
std::string ip_text(const mbedtls_x509_buf& ip) {
  if (ip.len == 4) {
    boost::asio::ip::address_v4::bytes_type bytes{};
    std::memcpy(bytes.data(), ip.p, bytes.size());
    return boost::asio::ip::make_address_v4(bytes).to_string();
  }
  if (ip.len == 16) {
    boost::asio::ip::address_v6::bytes_type bytes{};
    std::memcpy(bytes.data(), ip.p, bytes.size());
    return boost::asio::ip::make_address_v6(bytes).to_string();
  }
  return "(malformed IP address)";
}

std::string common_name(const mbedtls_x509_name* name) {
  for (; name; name = name->next) {
    if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &name->oid) == 0) {
      return std::string(reinterpret_cast<const char*>(name->val.p), name->val.len);
    }
  }
  return {};
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) text += i + 1 == names.size() ? " and " : ", ";
    text += names[i];
  }
  return text;
}

}  // namespace

CertificateSummary summarize(const mbedtls_x509_crt& certificate) {
  CertificateSummary summary;
  summary.subject = dn(certificate.subject);
  summary.issuer = dn(certificate.issuer);
  summary.not_before = when(certificate.valid_from);
  summary.not_after = when(certificate.valid_to);
  for (const mbedtls_asn1_sequence* entry = &certificate.subject_alt_names; entry && entry->buf.p;
       entry = entry->next) {
    mbedtls_x509_subject_alternative_name san{};
    if (mbedtls_x509_parse_subject_alt_name(&entry->buf, &san) != 0) continue;
    if (san.type == MBEDTLS_X509_SAN_DNS_NAME) {
      summary.names.emplace_back(reinterpret_cast<const char*>(san.san.unstructured_name.p),
                                 san.san.unstructured_name.len);
    } else if (san.type == MBEDTLS_X509_SAN_IP_ADDRESS) {
      summary.names.push_back(ip_text(san.san.unstructured_name));
    }
    mbedtls_x509_free_subject_alt_name(&san);
  }
  if (summary.names.empty()) {
    if (auto cn = common_name(&certificate.subject); !cn.empty()) summary.names.push_back(std::move(cn));
  }
  return summary;
}

std::string explain(const VerifyOutcome& outcome, const std::string& peer, const std::string& expected_host,
                    const std::string& pinned_ca_subject) {
  const std::string whose = "The " + peer + "'s certificate";
  if (!outcome.leaf) {
    return "The " + peer + " presented no certificate that could be read.";
  }
  const auto& leaf = *outcome.leaf;
  const std::string named = whose + " \"" + leaf.subject + "\"";
  std::vector<std::string> sentences;
  std::uint32_t rest = outcome.leaf_flags;

  if (rest & MBEDTLS_X509_BADCERT_EXPIRED) {
    sentences.push_back(named + " expired on " + leaf.not_after + " (it was valid from " + leaf.not_before + ").");
    rest &= ~MBEDTLS_X509_BADCERT_EXPIRED;
  }
  if (rest & MBEDTLS_X509_BADCERT_FUTURE) {
    sentences.push_back(named + " is not valid until " + leaf.not_before + "; this device's clock reads " + now_utc() +
                        ", so either the clock is behind or the certificate was issued for later.");
    rest &= ~MBEDTLS_X509_BADCERT_FUTURE;
  }
  if (rest & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
    sentences.push_back(named + " is for " + (leaf.names.empty() ? std::string("no host name") : joined(leaf.names)) +
                        ", not for \"" + expected_host + "\", the host this agent connected to.");
    rest &= ~MBEDTLS_X509_BADCERT_CN_MISMATCH;
  }
  if (rest & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
    sentences.push_back(named + " was issued by \"" + leaf.issuer + "\", which is not the pinned CA \"" +
                        pinned_ca_subject + "\" and is not signed by it.");
    rest &= ~MBEDTLS_X509_BADCERT_NOT_TRUSTED;
  }

  std::uint32_t chain = outcome.chain_flags;
  const std::string ca_named =
      "The CA certificate \"" + (outcome.failing_ca ? outcome.failing_ca->subject : std::string("?")) + "\"";
  if (chain & MBEDTLS_X509_BADCERT_EXPIRED) {
    sentences.push_back(ca_named + " above the " + peer + "'s certificate expired on " +
                        (outcome.failing_ca ? outcome.failing_ca->not_after : std::string("?")) + ".");
    chain &= ~MBEDTLS_X509_BADCERT_EXPIRED;
  }
  if (chain & MBEDTLS_X509_BADCERT_FUTURE) {
    sentences.push_back(ca_named + " above the " + peer + "'s certificate is not valid until " +
                        (outcome.failing_ca ? outcome.failing_ca->not_before : std::string("?")) + ".");
    chain &= ~MBEDTLS_X509_BADCERT_FUTURE;
  }
  if (chain & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
    sentences.push_back(ca_named + " in the " + peer + "'s chain is not the pinned CA \"" + pinned_ca_subject + "\".");
    chain &= ~MBEDTLS_X509_BADCERT_NOT_TRUSTED;
  }

  // Anything else (revoked, weak key or hash, wrong key usage) in mbedTLS's own words, one line each.
  if (const std::uint32_t other = rest | chain; other != 0) {
    char text[1024];
    if (mbedtls_x509_crt_verify_info(text, sizeof text, "", other) > 0) {
      std::string lines(text);
      std::size_t start = 0;
      while (start < lines.size()) {
        auto end = lines.find('\n', start);
        if (end == std::string::npos) end = lines.size();
        if (end > start) sentences.push_back(whose + ": " + lines.substr(start, end - start) + ".");
        start = end + 1;
      }
    }
  }
  if (sentences.empty()) sentences.push_back(named + " was refused, though mbedTLS named no reason.");

  std::string text;
  for (const auto& sentence : sentences) {
    if (!text.empty()) text += ' ';
    text += sentence;
  }
  return text;
}

}  // namespace postured::transport
