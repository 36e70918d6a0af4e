// Where a TCP connection was going before iptables REDIRECT sent it to this process:
// getsockopt(SO_ORIGINAL_DST) for IPv4 sockets, IP6T_SO_ORIGINAL_DST for IPv6 ones. Only
// Node-API is used, so one build loads in every Node version. Deciding whether the
// connection was redirected at all (the answer equals the local address) is the wrapper's job.
#include <node_api.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifdef __linux__
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

// From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>, which clash with
// glibc's headers when included beside them.
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif
#endif

static napi_value throw_errno(napi_env env, int err, const char* call) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", call, strerror(err));
  napi_value code, msg, error;
  const char* name = err == EBADF ? "EBADF" : err == ENOTSOCK ? "ENOTSOCK" : err == ENOSYS ? "ENOSYS" : err == ENOTCONN ? "ENOTCONN" : "EIO";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_throw(env, error);
  return NULL;
}

// originalDst(fd: number, family: 4 | 6): {address: string, port: number, family: 4 | 6} | null
// `family` is the socket's (the caller knows it; asking the kernel would cost a syscall per
// connection). null: the kernel has no NAT record for this connection (it was not
// redirected, or connection tracking is not loaded).
static napi_value original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, NULL, "originalDst(fd, family) needs a file descriptor and 4 or 6");
    return NULL;
  }
  int32_t fd, socket_family;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "originalDst(fd, family): fd must be a non-negative integer");
    return NULL;
  }
  if (napi_get_value_int32(env, argv[1], &socket_family) != napi_ok || (socket_family != 4 && socket_family != 6)) {
    napi_throw_type_error(env, NULL, "originalDst(fd, family): family must be 4 or 6");
    return NULL;
  }
#ifdef __linux__
  struct sockaddr_storage dst;
  socklen_t dst_len = sizeof dst;
  memset(&dst, 0, sizeof dst);
  int rc = socket_family == 6 ? getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &dst_len)
                              : getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &dst_len);
  if (rc != 0) {
    int err = errno;
    // ENOENT: no conntrack entry with NAT; ENOPROTOOPT: conntrack is not loaded at all.
    if (err == ENOENT || err == ENOPROTOOPT) {
      napi_value null_value;
      napi_get_null(env, &null_value);
      return null_value;
    }
    return throw_errno(env, err, "getsockopt(SO_ORIGINAL_DST)");
  }

  char text[INET6_ADDRSTRLEN];
  uint16_t port;
  int family;
  if (dst.ss_family == AF_INET6) {
    struct sockaddr_in6* in6 = (struct sockaddr_in6*)&dst;
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    port = ntohs(in6->sin6_port);
    family = 6;
  } else {
    struct sockaddr_in* in4 = (struct sockaddr_in*)&dst;
    inet_ntop(AF_INET, &in4->sin_addr, text, sizeof text);
    port = ntohs(in4->sin_port);
    family = 4;
  }
  napi_value result, address, port_value, family_value;
  napi_create_object(env, &result);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &address);
  napi_create_uint32(env, port, &port_value);
  napi_create_uint32(env, (uint32_t)family, &family_value);
  napi_set_named_property(env, result, "address", address);
  napi_set_named_property(env, result, "port", port_value);
  napi_set_named_property(env, result, "family", family_value);
  return result;
#else
  (void)fd;
  (void)socket_family;
  return throw_errno(env, ENOSYS, "SO_ORIGINAL_DST (Linux only)");
#endif
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "originalDst", NAPI_AUTO_LENGTH, original_dst, NULL, &fn);
  napi_set_named_property(env, exports, "originalDst", fn);
  return exports;
}
