/* The client side of agent/cache/KEY_RELEASE.md: one request line, one reply line, then the daemon
 * closes. Plain C11 with POSIX sockets so that any POS program can link it. */
#define _DEFAULT_SOURCE /* explicit_bzero, clock_gettime */

#include "postured/key_client.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The protocol's limits; agent/cache/key_release.hpp holds the daemon's side of them. */
enum {
  MAX_NAME_LENGTH = 64,
  /* "KEY " + name + '\n' */
  MAX_REQUEST_BYTES = 4 + MAX_NAME_LENGTH + 1,
  /* The daemon's longest reply is "ERR " + a 200-byte reason + '\n'; more than that is not the daemon. */
  MAX_REPLY_BYTES = 256,
  KEY_HEX_DIGITS = 64
};

__attribute__((format(printf, 3, 4))) static void set_error(char* error, size_t error_size, const char* format, ...) {
  va_list args;
  if (error == NULL || error_size == 0) return;
  va_start(args, format);
  vsnprintf(error, error_size, format, args);
  va_end(args);
}

static int is_name_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static int is_valid_name(const char* name) {
  size_t length = 0;
  for (; name[length] != '\0'; ++length) {
    if (length >= MAX_NAME_LENGTH || !is_name_character(name[length])) return 0;
  }
  return length > 0;
}

static int is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static long long monotonic_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int connect_to(const char* socket_path, char* error, size_t error_size) {
  struct sockaddr_un address;
  struct timeval timeout;
  const size_t length = strlen(socket_path);
  int fd;
  memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  if (length == 0 || length >= sizeof address.sun_path) {
    set_error(error, error_size, "socket path '%s' is empty or too long", socket_path);
    return -1;
  }
  memcpy(address.sun_path, socket_path, length);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    set_error(error, error_size, "cannot create a socket: %s", strerror(errno));
    return -1;
  }
  /* connect() on a Unix socket blocks while the daemon's backlog is full; the send timeout bounds it. */
  timeout.tv_sec = POSTURED_KEY_TIMEOUT_MS / 1000;
  timeout.tv_usec = (POSTURED_KEY_TIMEOUT_MS % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  while (connect(fd, (const struct sockaddr*)&address, sizeof address) != 0) {
    if (errno == EINTR) continue;
    set_error(error, error_size, "cannot connect to %s: %s", socket_path, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

static int send_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    /* MSG_NOSIGNAL: a daemon that went away must not kill the POS program with SIGPIPE. */
    const ssize_t sent = send(fd, data, size, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return -1;
    data += sent;
    size -= (size_t)sent;
  }
  return 0;
}

/* Reads until '\n', end of stream or a full buffer; returns the bytes read, or -1 (error set). */
static ssize_t receive_line(int fd, char* buffer, size_t size, char* error, size_t error_size) {
  const long long deadline = monotonic_ms() + POSTURED_KEY_TIMEOUT_MS;
  size_t used = 0;
  while (used < size && memchr(buffer, '\n', used) == NULL) {
    struct pollfd ready;
    const long long left = deadline - monotonic_ms();
    ssize_t got;
    int polled;
    if (left <= 0) {
      set_error(error, error_size, "no reply from postured within %d ms", POSTURED_KEY_TIMEOUT_MS);
      return -1;
    }
    ready.fd = fd;
    ready.events = POLLIN;
    ready.revents = 0;
    polled = poll(&ready, 1, (int)left);
    if (polled < 0 && errno == EINTR) continue;
    if (polled < 0) {
      set_error(error, error_size, "cannot wait for the reply: %s", strerror(errno));
      return -1;
    }
    if (polled == 0) continue;
    got = recv(fd, buffer + used, size - used, 0);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got < 0) {
      set_error(error, error_size, "cannot read the reply: %s", strerror(errno));
      return -1;
    }
    if (got == 0) break;
    used += (size_t)got;
  }
  return (ssize_t)used;
}

int postured_fetch_cache_key(const char* socket_path, const char* cache_name, char key_hex[POSTURED_KEY_HEX_SIZE],
                             char* error, size_t error_size) {
  char request[MAX_REQUEST_BYTES + 1];
  char reply[MAX_REPLY_BYTES];
  const char* newline;
  ssize_t received;
  int fd;
  int result = -1;

  if (error != NULL && error_size > 0) error[0] = '\0';
  if (key_hex == NULL) {
    set_error(error, error_size, "no buffer for the key");
    return -1;
  }
  memset(key_hex, 0, POSTURED_KEY_HEX_SIZE);
  if (cache_name == NULL || !is_valid_name(cache_name)) {
    set_error(error, error_size, "invalid cache name: 1 to %d letters, digits, '.', '_' or '-'", MAX_NAME_LENGTH);
    return -1;
  }
  if (socket_path == NULL) socket_path = POSTURED_KEY_SOCKET_DEFAULT;

  fd = connect_to(socket_path, error, error_size);
  if (fd < 0) return -1;
  memset(reply, 0, sizeof reply);
  snprintf(request, sizeof request, "KEY %s\n", cache_name);
  if (send_all(fd, request, strlen(request)) != 0) {
    set_error(error, error_size, "cannot send the request to %s: %s", socket_path, strerror(errno));
    goto done;
  }
  received = receive_line(fd, reply, sizeof reply, error, error_size);
  if (received < 0) goto done;
  newline = memchr(reply, '\n', (size_t)received);
  if (newline == NULL) {
    set_error(error, error_size,
              received == 0 ? "postured closed the connection without a reply" : "malformed reply from postured");
    goto done;
  }
  if (newline - reply == 3 + KEY_HEX_DIGITS && memcmp(reply, "OK ", 3) == 0) {
    int i;
    for (i = 0; i < KEY_HEX_DIGITS && is_lower_hex(reply[3 + i]); ++i) {
    }
    if (i == KEY_HEX_DIGITS) {
      memcpy(key_hex, reply + 3, KEY_HEX_DIGITS);
      key_hex[KEY_HEX_DIGITS] = '\0';
      result = 0;
      goto done;
    }
  }
  if (newline - reply > 4 && memcmp(reply, "ERR ", 4) == 0) {
    set_error(error, error_size, "%.*s", (int)(newline - reply - 4), reply + 4);
    goto done;
  }
  set_error(error, error_size, "malformed reply from postured");

done:
  close(fd);
  explicit_bzero(reply, sizeof reply);
  explicit_bzero(request, sizeof request);
  return result;
}
