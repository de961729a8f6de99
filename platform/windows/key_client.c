/* The client side of agent/cache/KEY_RELEASE.md on Windows: include/postured/key_client.h over the
 * daemon's named pipe instead of the Unix socket. Plain C11 and Win32 only, so that any POS program can
 * link it. `socket_path` is the pipe's name, \\.\pipe\postured@<agent.runtime_dir with '/'>
 * (platform/windows/local_pipe.hpp); NULL means the pipe of the default runtime_dir. */
#include <winsock2.h>
/* (winsock2.h first: windows.h would otherwise pull in winsock.h.) */
#include <windows.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "postured/key_client.h"

/* The pipe for agent.runtime_dir = "/run/postured" (POSTURED_KEY_SOCKET_DEFAULT's folder). */
#define DEFAULT_PIPE "\\\\.\\pipe\\postured@/run/postured"

/* The protocol's limits; agent/cache/key_release.hpp holds the daemon's side of them. */
enum { MAX_NAME_LENGTH = 64, MAX_REQUEST_BYTES = 4 + MAX_NAME_LENGTH + 1, MAX_REPLY_BYTES = 256, KEY_HEX_DIGITS = 64 };

static void set_error(char* error, size_t error_size, const char* format, ...) {
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

static DWORD left_until(ULONGLONG deadline) {
  const ULONGLONG now = GetTickCount64();
  return now >= deadline ? 0 : (DWORD)(deadline - now);
}

/* Waits for an overlapped operation until `deadline`; cancels it when time is up. Returns the bytes
 * transferred, or -1 with the Win32 error in *code (WAIT_TIMEOUT for the deadline). */
static long finish(HANDLE pipe, OVERLAPPED* overlapped, ULONGLONG deadline, DWORD* code) {
  DWORD transferred = 0;
  if (WaitForSingleObject(overlapped->hEvent, left_until(deadline)) != WAIT_OBJECT_0) {
    CancelIoEx(pipe, overlapped);
    GetOverlappedResult(pipe, overlapped, &transferred, TRUE); /* the buffer must outlive the I/O */
    *code = WAIT_TIMEOUT;
    return -1;
  }
  if (!GetOverlappedResult(pipe, overlapped, &transferred, FALSE)) {
    *code = GetLastError();
    return -1;
  }
  return (long)transferred;
}

static HANDLE connect_to(const char* pipe_name, ULONGLONG deadline, char* error, size_t error_size) {
  for (;;) {
    /* SECURITY_IDENTIFICATION: the daemon may see who we are, not act as us. */
    HANDLE pipe = CreateFileA(pipe_name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                              FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, NULL);
    DWORD code;
    if (pipe != INVALID_HANDLE_VALUE) return pipe;
    code = GetLastError();
    /* Every instance is busy serving someone: wait for one, like a full listen backlog. */
    if (code == ERROR_PIPE_BUSY && left_until(deadline) > 0) {
      WaitNamedPipeA(pipe_name, left_until(deadline) > 0 ? left_until(deadline) : 1);
      continue;
    }
    set_error(error, error_size, "cannot connect to %s: Win32 error %lu", pipe_name, (unsigned long)code);
    return INVALID_HANDLE_VALUE;
  }
}

int postured_fetch_cache_key(const char* socket_path, const char* cache_name, char key_hex[POSTURED_KEY_HEX_SIZE],
                             char* error, size_t error_size) {
  char request[MAX_REQUEST_BYTES + 1];
  char reply[MAX_REPLY_BYTES];
  const ULONGLONG deadline = GetTickCount64() + POSTURED_KEY_TIMEOUT_MS;
  const char* newline = NULL;
  size_t used = 0;
  size_t request_length;
  HANDLE pipe;
  HANDLE event;
  OVERLAPPED overlapped;
  DWORD code = 0;
  long transferred;
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
  if (socket_path == NULL) socket_path = DEFAULT_PIPE;
  pipe = connect_to(socket_path, deadline, error, error_size);
  if (pipe == INVALID_HANDLE_VALUE) return -1;
  event = CreateEventA(NULL, TRUE, FALSE, NULL);
  if (event == NULL) {
    set_error(error, error_size, "cannot create an event: Win32 error %lu", (unsigned long)GetLastError());
    CloseHandle(pipe);
    return -1;
  }
  memset(reply, 0, sizeof reply);
  snprintf(request, sizeof request, "KEY %s\n", cache_name);
  request_length = strlen(request);

  memset(&overlapped, 0, sizeof overlapped);
  overlapped.hEvent = event;
  if (!WriteFile(pipe, request, (DWORD)request_length, NULL, &overlapped) && GetLastError() != ERROR_IO_PENDING) {
    set_error(error, error_size, "cannot send the request to %s: Win32 error %lu", socket_path,
              (unsigned long)GetLastError());
    goto done;
  }
  transferred = finish(pipe, &overlapped, deadline, &code);
  if (transferred != (long)request_length) {
    set_error(error, error_size, "cannot send the request to %s: Win32 error %lu", socket_path, (unsigned long)code);
    goto done;
  }
  while (used < sizeof reply && (newline = memchr(reply, '\n', used)) == NULL) {
    memset(&overlapped, 0, sizeof overlapped);
    overlapped.hEvent = event;
    ResetEvent(event);
    if (!ReadFile(pipe, reply + used, (DWORD)(sizeof reply - used), NULL, &overlapped)) {
      code = GetLastError();
      if (code == ERROR_BROKEN_PIPE) break; /* the daemon closed */
      if (code != ERROR_IO_PENDING) {
        set_error(error, error_size, "cannot read the reply: Win32 error %lu", (unsigned long)code);
        goto done;
      }
    }
    transferred = finish(pipe, &overlapped, deadline, &code);
    if (transferred < 0 && code == ERROR_BROKEN_PIPE) break;
    if (transferred < 0 && code == WAIT_TIMEOUT) {
      set_error(error, error_size, "no reply from postured within %d ms", POSTURED_KEY_TIMEOUT_MS);
      goto done;
    }
    if (transferred < 0) {
      set_error(error, error_size, "cannot read the reply: Win32 error %lu", (unsigned long)code);
      goto done;
    }
    if (transferred == 0) break;
    used += (size_t)transferred;
  }
  if (newline == NULL) newline = memchr(reply, '\n', used);
  if (newline == NULL) {
    set_error(error, error_size,
              used == 0 ? "postured closed the connection without a reply" : "malformed reply from postured");
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
  CloseHandle(event);
  CloseHandle(pipe);
  SecureZeroMemory(reply, sizeof reply);
  SecureZeroMemory(request, sizeof request);
  return result;
}
