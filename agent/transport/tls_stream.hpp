// An Asio stream over mbedTLS 3.6: TLS on a TCP socket, with a deadline on every operation. It models
// AsyncReadStream and AsyncWriteStream, so Boost.Beast's HTTP reads and writes run on top of it.
//
// One operation at a time: a handshake, then reads and writes one after the other (as an HTTP/1.1
// client does). A read and a write may not be in flight together: both would move the same buffers.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <system_error>

#include <mbedtls/ssl.h>

#include "core/asio.hpp"
#include "transport/limits.hpp"
#include "transport/tls_engine.hpp"

namespace postured::transport {

// mbedTLS error codes as error_code values (the value is -MBEDTLS_ERR_...).
const boost::system::error_category& tls_category();
inline boost::system::error_code make_tls_error(int mbedtls_rc) {
  return {-mbedtls_rc, tls_category()};
}

struct TlsTimeouts {
  std::chrono::milliseconds handshake = limits::kHandshakeTimeout;  // the whole handshake
  std::chrono::milliseconds read = limits::kReadTimeout;            // each read
  std::chrono::milliseconds write = limits::kWriteTimeout;          // each write
};

class TlsStream {
 public:
  using next_layer_type = boost::asio::ip::tcp::socket;
  using lowest_layer_type = next_layer_type::lowest_layer_type;
  using executor_type = next_layer_type::executor_type;

  // `expected_host` is verified in the server's certificate (clients); servers pass "".
  TlsStream(const executor_type& executor, std::shared_ptr<const TlsConfig> config, const std::string& expected_host,
            TlsTimeouts timeouts = {})
      : socket_(executor),
        engine_(std::make_unique<TlsEngine>(std::move(config), expected_host)),
        timeouts_(timeouts),
        read_deadline_(executor),
        write_deadline_(executor) {}
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  next_layer_type& next_layer() { return socket_; }
  lowest_layer_type& lowest_layer() { return socket_.lowest_layer(); }
  const TlsEngine& engine() const { return *engine_; }

  // Completion: void(error_code). A refused certificate completes with MBEDTLS_ERR_X509_CERT_VERIFY_FAILED
  // and engine().certificate_problem() says why; no answer in time completes with error::timed_out.
  template <typename Token>
  auto async_handshake(Token&& token);
  // Completion: void(error_code, size_t). The peer's close_notify or a closed socket is error::eof.
  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token);
  // Completion: void(error_code, size_t); writes at most one TLS record's worth.
  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token);
  // Sends close_notify; does not wait for the peer's. Completion: void(error_code).
  template <typename Token>
  auto async_shutdown(Token&& token);

 private:
  enum class Kind { handshake, read, write };
  struct Deadline {
    explicit Deadline(const executor_type& executor) : timer(executor) {}
    boost::asio::steady_timer timer;
    unsigned generation = 0;
    bool expired = false;
  };
  template <typename Operation, bool WithSize>
  friend class TlsOperation;

  Deadline& deadline(Kind kind) { return kind == Kind::write ? write_deadline_ : read_deadline_; }
  std::chrono::milliseconds timeout(Kind kind) const {
    return kind == Kind::handshake ? timeouts_.handshake : kind == Kind::read ? timeouts_.read : timeouts_.write;
  }
  // Starts the operation's timer; when it fires, the socket's pending operations are cancelled.
  void arm(Kind kind) {
    auto& d = deadline(kind);
    d.expired = false;
    const unsigned generation = ++d.generation;
    d.timer.expires_after(timeout(kind));
    d.timer.async_wait([this, &d, generation](const boost::system::error_code& ec) {
      if (ec || generation != d.generation) return;
      d.expired = true;
      boost::system::error_code ignored;
      socket_.cancel(ignored);
    });
  }
  // Stops the timer; returns true if it had fired.
  bool disarm(Kind kind) {
    auto& d = deadline(kind);
    ++d.generation;
    d.timer.cancel();
    return d.expired;
  }

  next_layer_type socket_;
  std::unique_ptr<TlsEngine> engine_;
  TlsTimeouts timeouts_;
  Deadline read_deadline_;
  Deadline write_deadline_;
};

// One stream operation as an Asio composed operation: call mbedTLS, move the bytes it wants moved,
// call again, until it has a result. `Operation` is `TlsEngine::Step(TlsEngine&)`.
template <typename Operation, bool WithSize>
class TlsOperation {
 public:
  TlsOperation(TlsStream& stream, TlsStream::Kind kind, Operation operation)
      : stream_(stream), kind_(kind), operation_(std::move(operation)) {}

  template <typename Self>
  void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
    TlsEngine& engine = *stream_.engine_;
    switch (state_) {
      case State::start: stream_.arm(kind_); break;
      case State::sending:
        if (ec) return finish(self, ec, 0);
        engine.consume_output(n);
        if (final_) return finish(self, result_);
        break;
      case State::receiving:
        if (ec) return finish(self, ec, 0);
        engine.commit_input(n);
        break;
      case State::posted: return complete(self, ec_, n_);
    }
    for (;;) {
      const TlsEngine::Step step = operation_(engine);
      switch (step.want) {
        case TlsEngine::Want::output:
          state_ = State::sending;
          final_ = step.final;
          result_ = step.result;
          boost::asio::async_write(stream_.socket_,
                                   boost::asio::buffer(engine.pending_output(), engine.pending_output_size()),
                                   std::move(self));
          return;
        case TlsEngine::Want::input: {
          state_ = State::receiving;
          std::size_t size = 0;
          unsigned char* space = engine.input_space(size);
          stream_.socket_.async_read_some(boost::asio::buffer(space, size), std::move(self));
          return;
        }
        case TlsEngine::Want::again: continue;
        case TlsEngine::Want::done: return finish(self, step.result);
      }
    }
  }

 private:
  enum class State { start, sending, receiving, posted };

  template <typename Self>
  void finish(Self& self, int rc) {
    if (rc >= 0) return finish(self, {}, static_cast<std::size_t>(rc));
    if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) return finish(self, boost::asio::error::eof, 0);
    finish(self, make_tls_error(rc), 0);
  }
  template <typename Self>
  void finish(Self& self, boost::system::error_code ec, std::size_t n) {
    if (stream_.disarm(kind_) && ec == boost::asio::error::operation_aborted) ec = boost::asio::error::timed_out;
    if (state_ == State::start) {
      // Finished without waiting for anything: complete from the executor, never inside the initiation.
      state_ = State::posted;
      ec_ = ec;
      n_ = n;
      boost::asio::post(stream_.get_executor(), std::move(self));
      return;
    }
    complete(self, ec, n);
  }
  template <typename Self>
  void complete(Self& self, boost::system::error_code ec, std::size_t n) {
    if constexpr (WithSize) {
      self.complete(ec, n);
    } else {
      (void)n;
      self.complete(ec);
    }
  }

  TlsStream& stream_;
  TlsStream::Kind kind_;
  Operation operation_;
  State state_ = State::start;
  bool final_ = false;
  int result_ = 0;
  boost::system::error_code ec_;
  std::size_t n_ = 0;
};

template <typename Token>
auto TlsStream::async_handshake(Token&& token) {
  auto operation = [](TlsEngine& engine) { return engine.handshake(); };
  return boost::asio::async_compose<Token, void(boost::system::error_code)>(
      TlsOperation<decltype(operation), false>(*this, Kind::handshake, operation), token, socket_);
}

template <typename MutableBuffers, typename Token>
auto TlsStream::async_read_some(const MutableBuffers& buffers, Token&& token) {
  boost::asio::mutable_buffer target;
  for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
    boost::asio::mutable_buffer buffer(*it);
    if (buffer.size() > 0) {
      target = buffer;
      break;
    }
  }
  auto operation = [target](TlsEngine& engine) -> TlsEngine::Step {
    if (target.size() == 0) return {TlsEngine::Want::done, 0, true};
    return engine.read(static_cast<unsigned char*>(target.data()), target.size());
  };
  return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
      TlsOperation<decltype(operation), true>(*this, Kind::read, operation), token, socket_);
}

template <typename ConstBuffers, typename Token>
auto TlsStream::async_write_some(const ConstBuffers& buffers, Token&& token) {
  // Gather one record's worth, so that Beast's header pieces and body go out as one TLS record.
  auto& staging = engine_->write_staging();
  staging.resize(std::min(boost::asio::buffer_size(buffers), limits::kMaxRecordPlaintext));
  boost::asio::buffer_copy(boost::asio::buffer(staging), buffers);
  auto operation = [&staging](TlsEngine& engine) -> TlsEngine::Step {
    if (staging.empty()) return {TlsEngine::Want::done, 0, true};
    return engine.write(staging.data(), staging.size());
  };
  return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
      TlsOperation<decltype(operation), true>(*this, Kind::write, operation), token, socket_);
}

template <typename Token>
auto TlsStream::async_shutdown(Token&& token) {
  auto operation = [](TlsEngine& engine) { return engine.shutdown(); };
  return boost::asio::async_compose<Token, void(boost::system::error_code)>(
      TlsOperation<decltype(operation), false>(*this, Kind::write, operation), token, socket_);
}

}  // namespace postured::transport
