// SPDX-License-Identifier: GPL-2.0
/*
 * vubctl: administration of vhost-user-bridge through its generic netlink
 * family (uapi/linux/vhost_user_bridge.h): named instances, the devices VMMs
 * have open, the bridge daemon's status, and events.  Output in the style of
 * iproute2 (one line per object, "key value" pairs), or JSON with -j.
 *
 * Exit status: 0 success, 1 error, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <sys/socket.h>

#include <linux/vhost_user_bridge.h>

#define PROG "vubctl"

enum { EXIT_OK = 0, EXIT_ERR = 1, EXIT_USAGE = 2 };

static bool json, details;
static struct nl_sock *sk;
static int family;
static char extack[256];	/* the kernel's message for the last error */

static void usage(FILE *f)
{
	fputs("usage: " PROG " [-j] [-d] OBJECT COMMAND [ARGS]\n"
	      "  " PROG " instance add NAME --socket PATH [--type net] [--mem default|refuse|mirror]\n"
	      "  " PROG " instance del NAME [--force]\n"
	      "  " PROG " instance list | show NAME\n"
	      "  " PROG " device list | show ID        (also: dev)\n"
	      "  " PROG " bridge [show]\n"
	      "  " PROG " monitor                      (events until SIGINT/SIGTERM)\n"
	      "  -j, --json     JSON output\n"
	      "  -d, --details  full latency histograms\n"
	      "Exit status: 0 ok, 1 error, 2 usage.\n", f);
}

static int usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs(" (" PROG " -h for help)\n", stderr);
	va_end(ap);
	return EXIT_USAGE;
}

static int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return EXIT_ERR;
}

/* A prefix of @word, as iproute2 accepts ("inst" for "instance"). */
static bool matches(const char *arg, const char *word)
{
	size_t n = strlen(arg);

	return n && !strncmp(arg, word, n);
}

/* --- JSON ------------------------------------------------------------ */

static struct {
	int depth;
	bool first[8];
	bool after_key;
} J;

static void jsep(void)
{
	if (J.after_key) {
		J.after_key = false;
		return;
	}
	if (J.depth && !J.first[J.depth])	/* top-level values stand alone */
		putchar(',');
	J.first[J.depth] = false;
}

static void jopen(char c)
{
	jsep();
	putchar(c);
	J.first[++J.depth] = true;
}

static void jclose(char c)
{
	putchar(c);
	J.depth--;
}

/* Length of the valid UTF-8 sequence at @s (at most @n bytes), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* A JSON string: escapes per RFC 8259; bytes that are not UTF-8 become U+FFFD. */
static void jstr_n(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, len;

	jsep();
	putchar('"');
	while (i < n) {
		switch (s[i]) {
		case '"': fputs("\\\"", stdout); break;
		case '\\': fputs("\\\\", stdout); break;
		case '\b': fputs("\\b", stdout); break;
		case '\f': fputs("\\f", stdout); break;
		case '\n': fputs("\\n", stdout); break;
		case '\r': fputs("\\r", stdout); break;
		case '\t': fputs("\\t", stdout); break;
		default:
			if (s[i] < 0x20) {
				printf("\\u%04x", s[i]);
				break;
			}
			len = utf8_seq(s + i, n - i);
			if (!len) {
				fputs("\\ufffd", stdout);
				break;
			}
			fwrite(s + i, 1, len, stdout);
			i += len;
			continue;
		}
		i++;
	}
	putchar('"');
}

static void jstr(const char *s)
{
	jstr_n(s, strlen(s));
}

static void jkey(const char *k)
{
	jstr(k);
	putchar(':');
	J.after_key = true;
}

static void jnum(uint64_t v)
{
	jsep();
	printf("%" PRIu64, v);
}

static void jlit(const char *lit)
{
	jsep();
	fputs(lit, stdout);
}

/* --- attributes ------------------------------------------------------ */

enum fmt { F_NUM, F_HEX, F_STR, F_BOOL, F_TYPE, F_DEV_STATE, F_BACKEND, F_MEM, F_LATENCY };

struct field {
	int attr;
	const char *key;	/* JSON key; human output uses it with '-' for '_' */
	enum fmt fmt;
};

struct kind {
	const char *name;	/* human output starts with it */
	const struct field *fields;
	size_t nr;
};

static const struct field instance_fields[] = {
	{ VUB_A_INSTANCE_NAME,		"name",		F_STR },
	{ VUB_A_INSTANCE_ID,		"id",		F_NUM },
	{ VUB_A_INSTANCE_TYPE,		"type",		F_TYPE },
	{ VUB_A_INSTANCE_SOCKET,	"socket",	F_STR },
	{ VUB_A_INSTANCE_MEM_POLICY,	"mem",		F_MEM },
	{ VUB_A_INSTANCE_DEVICES,	"devices",	F_NUM },
};

static const struct field device_fields[] = {
	{ VUB_A_DEV_ID,			"id",		F_NUM },
	{ VUB_A_DEV_PID,		"pid",		F_NUM },
	{ VUB_A_DEV_COMM,		"comm",		F_STR },
	{ VUB_A_INSTANCE_NAME,		"instance",	F_STR },
	{ VUB_A_INSTANCE_ID,		"instance_id",	F_NUM },
	{ VUB_A_INSTANCE_TYPE,		"type",		F_TYPE },
	{ VUB_A_DEV_STATE,		"state",	F_DEV_STATE },
	{ VUB_A_BACKEND_STATE,		"backend",	F_BACKEND },
	{ VUB_A_DEV_FEATURES,		"features",	F_HEX },
	{ VUB_A_BACKEND_FEATURES,	"backend_features", F_HEX },
	{ VUB_A_BACKEND_OFFLOADS_MISSING, "offloads_missing", F_HEX },
	{ VUB_A_BACKEND_RECONNECTS,	"reconnects",	F_NUM },
	{ VUB_A_DEV_MEM_REGIONS,	"mem_regions",	F_NUM },
	{ VUB_A_DEV_RINGS,		"rings",	F_HEX },
	{ VUB_A_DEV_IOCTLS,		"ioctls",	F_NUM },
	{ VUB_A_DEV_ERRORS,		"errors",	F_NUM },
	{ VUB_A_DEV_LATENCY,		"latency",	F_LATENCY },
};

static const struct field bridge_fields[] = {
	{ VUB_A_BRIDGE_ATTACHED,	"attached",	F_BOOL },
	{ VUB_A_BRIDGE_PID,		"pid",		F_NUM },
	{ VUB_A_BRIDGE_COMM,		"comm",		F_STR },
	{ VUB_A_BRIDGE_TAGS,		"tags",		F_NUM },
	{ VUB_A_BRIDGE_INFLIGHT,	"inflight",	F_NUM },
	{ VUB_A_BRIDGE_QUEUED,		"queued",	F_NUM },
	{ VUB_A_BRIDGE_QUEUED_PROCS,	"queued_procs",	F_NUM },
	{ VUB_A_BRIDGE_REQUESTS,	"requests",	F_NUM },
	{ VUB_A_BRIDGE_TIMEOUTS,	"timeouts",	F_NUM },
	{ VUB_A_BRIDGE_REFUSED,		"refused",	F_NUM },
};

#define KIND(n, f) { n, f, sizeof(f) / sizeof(f[0]) }
static const struct kind k_instance = KIND("instance", instance_fields);
static const struct kind k_device = KIND("device", device_fields);
static const struct kind k_bridge = KIND("bridge", bridge_fields);

static const struct {
	int cmd;
	const char *name;
	const struct kind *kind;
} events[] = {
	{ VUB_CMD_EVT_DEVICE_OPENED,	"device-opened",	&k_device },
	{ VUB_CMD_EVT_DEVICE_CLOSED,	"device-closed",	&k_device },
	{ VUB_CMD_EVT_BRIDGE_ATTACHED,	"bridge-attached",	&k_bridge },
	{ VUB_CMD_EVT_BRIDGE_DETACHED,	"bridge-detached",	&k_bridge },
	{ VUB_CMD_EVT_BACKEND,		"backend",		&k_device },
	{ VUB_CMD_EVT_INSTANCE_ADDED,	"instance-added",	&k_instance },
	{ VUB_CMD_EVT_INSTANCE_REMOVED,	"instance-removed",	&k_instance },
};

/* An integer attribute of any width (the kernel may widen one later). */
static uint64_t attr_uint(const struct nlattr *a)
{
	switch (nla_len(a)) {
	case 1: return nla_get_u8((struct nlattr *)a);
	case 2: return nla_get_u16((struct nlattr *)a);
	case 4: return nla_get_u32((struct nlattr *)a);
	case 8: return nla_get_u64((struct nlattr *)a);
	default: return 0;
	}
}

static size_t attr_strlen(const struct nlattr *a)
{
	return strnlen(nla_data(a), nla_len(a));
}

static const char *const mem_policies[] = {
	[VUB_MEM_DEFAULT] = "default", [VUB_MEM_REFUSE] = "refuse", [VUB_MEM_MIRROR] = "mirror",
};

static const char *enum_name(enum fmt fmt, uint64_t v)
{
	static const char *const types[] = { [VUB_TYPE_NET] = "net" };
	static const char *const states[] = {
		[VUB_DEV_OPEN] = "open", [VUB_DEV_OWNED] = "owned", [VUB_DEV_BROKEN] = "broken",
	};
	static const char *const backends[] = {
		[VUB_BACKEND_UNKNOWN] = "unknown", [VUB_BACKEND_CONNECTED] = "connected",
		[VUB_BACKEND_LOST] = "lost",
	};
	const char *const *names = fmt == F_TYPE ? types : fmt == F_DEV_STATE ? states :
				   fmt == F_MEM ? mem_policies : backends;
	size_t nr = fmt == F_TYPE ? sizeof(types) / sizeof(types[0]) :
		    fmt == F_DEV_STATE ? sizeof(states) / sizeof(states[0]) :
		    fmt == F_MEM ? sizeof(mem_policies) / sizeof(mem_policies[0]) :
		    sizeof(backends) / sizeof(backends[0]);

	return v < nr ? names[v] : NULL;
}

struct latency {
	uint64_t count;
	int median, p99;	/* bucket indexes, -1 when count is 0 */
	uint64_t b[VUB_LATENCY_BUCKETS];
};

static void latency_summary(const struct nlattr *a, struct latency *l)
{
	size_t n = nla_len(a) / sizeof(uint64_t), i;
	uint64_t cum = 0;

	memset(l, 0, sizeof(*l));
	if (n > VUB_LATENCY_BUCKETS)
		n = VUB_LATENCY_BUCKETS;
	memcpy(l->b, nla_data(a), n * sizeof(uint64_t));
	for (i = 0; i < VUB_LATENCY_BUCKETS; i++)
		l->count += l->b[i];
	l->median = l->p99 = -1;
	for (i = 0; i < VUB_LATENCY_BUCKETS && l->count; i++) {
		cum += l->b[i];
		if (l->median < 0 && 2 * cum >= l->count)
			l->median = i;
		if (l->p99 < 0 && 100 * cum >= 99 * l->count)
			l->p99 = i;
	}
}

/* Bucket i holds round trips of [2^i, 2^(i+1)) us; the last one anything longer. */
static void print_bucket(int i)
{
	if (i == VUB_LATENCY_BUCKETS - 1)
		printf(">=%lluus", 1ULL << i);
	else
		printf("%llu-%lluus", i ? 1ULL << i : 0, 1ULL << (i + 1));
}

/* Human output: strings as they are, but no control characters on a terminal. */
static void print_safe(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		putchar((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i]);
}

static void human_field(const struct field *f, const struct nlattr *a, bool first)
{
	struct latency l;
	const char *name;
	uint64_t v = 0;
	int i;

	if (!first) {
		putchar(' ');
		for (name = f->key; *name; name++)
			putchar(*name == '_' ? '-' : *name);
		putchar(' ');
	}
	if (f->fmt != F_STR && f->fmt != F_LATENCY)
		v = attr_uint(a);
	switch (f->fmt) {
	case F_NUM:
		printf("%" PRIu64, v);
		break;
	case F_HEX:
		printf("0x%" PRIx64, v);
		break;
	case F_STR:
		if (!attr_strlen(a))	/* instance 0 has no name: the default node */
			fputs(f->attr == VUB_A_INSTANCE_NAME ? "(default)" : "-", stdout);
		else
			print_safe(nla_data(a), attr_strlen(a));
		break;
	case F_BOOL:
		fputs(v ? "yes" : "no", stdout);
		break;
	case F_TYPE:
	case F_DEV_STATE:
	case F_BACKEND:
	case F_MEM:
		name = enum_name(f->fmt, v);
		if (name)
			fputs(name, stdout);
		else
			printf("%" PRIu64, v);
		break;
	case F_LATENCY:
		latency_summary(a, &l);
		printf("count %" PRIu64, l.count);
		if (l.count) {
			fputs(" median ", stdout);
			print_bucket(l.median);
			fputs(" p99 ", stdout);
			print_bucket(l.p99);
		}
		if (details) {
			fputs(" histogram", stdout);
			for (i = 0; i < VUB_LATENCY_BUCKETS; i++) {
				putchar(' ');
				print_bucket(i);
				printf(":%" PRIu64, l.b[i]);
			}
		}
		break;
	}
}

static void json_field(const struct field *f, const struct nlattr *a)
{
	struct latency l;
	const char *name;
	int i;

	jkey(f->key);
	switch (f->fmt) {
	case F_NUM:
	case F_HEX:
		jnum(attr_uint(a));
		break;
	case F_STR:
		jstr_n(nla_data(a), attr_strlen(a));
		break;
	case F_BOOL:
		jlit(attr_uint(a) ? "true" : "false");
		break;
	case F_TYPE:
	case F_DEV_STATE:
	case F_BACKEND:
	case F_MEM:
		name = enum_name(f->fmt, attr_uint(a));
		if (name)
			jstr(name);
		else
			jnum(attr_uint(a));
		break;
	case F_LATENCY:
		latency_summary(a, &l);
		jopen('{');
		jkey("count");
		jnum(l.count);
		jkey("median_bucket");
		if (l.count)
			jnum(l.median);
		else
			jlit("null");
		jkey("p99_bucket");
		if (l.count)
			jnum(l.p99);
		else
			jlit("null");
		jkey("buckets");
		jopen('[');
		for (i = 0; i < VUB_LATENCY_BUCKETS; i++)
			jnum(l.b[i]);
		jclose(']');
		jclose('}');
		break;
	}
}

/*
 * One object: "KIND FIRST key value ..." on a line, or a JSON object.  Only
 * the attributes present are printed.  @event names the event it came with.
 */
static void print_object(const struct kind *k, struct nlattr **tb, const char *event)
{
	size_t i;

	if (json) {
		if (event)
			J.first[0] = true;	/* one object per line */
		jopen('{');
		if (event) {
			jkey("event");
			jstr(event);
		}
		for (i = 0; i < k->nr; i++)
			if (tb[k->fields[i].attr])
				json_field(&k->fields[i], tb[k->fields[i].attr]);
		jclose('}');
		if (event)
			putchar('\n');
		return;
	}
	if (event)
		printf("%s: ", event);
	fputs(k->name, stdout);
	for (i = 0; i < k->nr; i++) {
		const struct field *f = &k->fields[i];

		if (!tb[f->attr])
			continue;
		if (i == 0 && k == &k_bridge) {
			fputs(attr_uint(tb[f->attr]) ? " attached" : " detached", stdout);
			continue;
		}
		if (i == 0)
			putchar(' ');
		human_field(f, tb[f->attr], i == 0);
	}
	putchar('\n');
}

/* --- netlink --------------------------------------------------------- */

struct xfer {
	bool done;
	int err;		/* positive errno from the kernel */
	const struct kind *kind;
	struct nlattr **save;	/* doit: keep the attributes instead of printing */
	struct nl_msg *saved;
	unsigned int objects;
};

static int parse(struct nl_msg *msg, struct nlattr **tb)
{
	return genlmsg_parse(nlmsg_hdr(msg), 0, tb, VUB_A_MAX, NULL);
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct xfer *x = arg;
	struct nlattr *tb[VUB_A_MAX + 1];

	if (parse(msg, tb) < 0)
		return NL_SKIP;
	x->objects++;
	if (x->save) {
		if (!x->saved) {
			nlmsg_get(msg);
			x->saved = msg;
			parse(msg, x->save);
		}
	} else if (x->kind) {
		print_object(x->kind, tb, NULL);
	}
	return NL_OK;
}

static int on_done(struct nl_msg *msg, void *arg)
{
	struct xfer *x = arg;

	(void)msg;
	x->done = true;
	return NL_STOP;
}

/* The kernel's error, and its extended-ack message if it sent one. */
static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct xfer *x = arg;
	struct nlattr *a;
	size_t off = sizeof(*e);
	int len, rem;

	(void)nla;
	x->err = -e->error;
	x->done = true;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	off = NLMSG_ALIGN(off);
	len = (int)nlh->nlmsg_len - NLMSG_HDRLEN - (int)off;
	nla_for_each_attr(a, (struct nlattr *)((char *)e + off), len, rem) {
		if (nla_type(a) == NLMSGERR_ATTR_MSG)
			snprintf(extack, sizeof(extack), "%.*s", (int)attr_strlen(a),
				 (char *)nla_data(a));
	}
	return NL_STOP;
}

static int connect_family(void)
{
	int one = 1, ret;

	sk = nl_socket_alloc();
	if (!sk)
		return error("out of memory");
	ret = genl_connect(sk);
	if (ret < 0)
		return error("generic netlink: %s", nl_geterror(ret));
	nl_socket_disable_auto_ack(sk);
	nl_socket_enable_msg_peek(sk);
	/* Extended acks carry the kernel's reason for an EINVAL; errors need not echo us. */
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	family = genl_ctrl_resolve(sk, VUB_GENL_NAME);
	if (family == -NLE_OBJ_NOTFOUND)
		return error("vhost_user_bridge module not loaded (no generic netlink family \"%s\")",
			     VUB_GENL_NAME);
	if (family < 0)
		return error("generic netlink family \"%s\": %s", VUB_GENL_NAME,
			     nl_geterror(family));
	return EXIT_OK;
}

/* A request; the first one connects (arguments are checked before that). */
static struct nl_msg *new_msg(int cmd, int flags)
{
	struct nl_msg *msg;

	if (!sk && connect_family())
		exit(EXIT_ERR);
	msg = nlmsg_alloc();
	if (!msg || !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags, cmd,
				 VUB_GENL_VERSION)) {
		fprintf(stderr, PROG ": out of memory\n");
		exit(EXIT_ERR);
	}
	return msg;
}

/*
 * Send @msg (freed) and read the answer: objects go to x->kind's printer or
 * x->save.  Returns 0, a positive errno from the kernel, or -1 after printing
 * a local error.
 */
static int transact(struct nl_msg *msg, struct xfer *x)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int ret;

	extack[0] = 0;
	if (!cb) {
		nlmsg_free(msg);
		error("out of memory");
		return -1;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, x);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_done, x);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_done, x);
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, x);
	ret = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	while (ret >= 0 && !x->done)
		ret = nl_recvmsgs(sk, cb);
	nl_cb_put(cb);
	if (x->err)
		return x->err;
	if (ret < 0 && !x->done) {
		error("netlink: %s", nl_geterror(ret));
		return -1;
	}
	return 0;
}

/* Report a failed request: @what is "instance add web" and the like. */
static int report(const char *what, int err)
{
	if (err < 0)
		return EXIT_ERR;
	if (err == EPERM)
		return error("%s: need CAP_NET_ADMIN", what);
	if (extack[0])
		return error("%s: %s (%s)", what, strerror(err), extack);
	return error("%s: %s", what, strerror(err));
}

/* A dump, printed: a JSON array, or one line per object. */
static int dump(int cmd, const struct kind *k, const char *what)
{
	struct xfer x = { .kind = k };
	int err;

	if (json)
		jopen('[');
	err = transact(new_msg(cmd, NLM_F_DUMP), &x);
	if (json) {
		jclose(']');
		putchar('\n');
	}
	return err ? report(what, err) : EXIT_OK;
}

/* A doit that answers with one object, printed; @enoent explains ENOENT. */
static int get_one(struct nl_msg *msg, const struct kind *k, const char *what,
		   const char *enoent)
{
	struct xfer x = { .kind = k };
	int err;

	err = transact(msg, &x);
	if (err == ENOENT && enoent)
		return error("%s: %s", what, enoent);
	if (err)
		return report(what, err);
	if (json && x.objects)
		putchar('\n');
	return EXIT_OK;
}

/* --- commands -------------------------------------------------------- */

static int valid_u32(const char *s, uint32_t *v)
{
	unsigned long long n;
	char *end;

	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || *end || n > UINT32_MAX)
		return 0;
	*v = n;
	return 1;
}

static int instance_add(int argc, char **argv)
{
	const char *name = NULL, *socket = NULL;
	uint32_t type = VUB_TYPE_NET, mem = VUB_MEM_DEFAULT;
	char what[128];
	struct nl_msg *msg;
	struct xfer x = { 0 };
	int i, err;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") || !strcmp(argv[i], "--type") ||
		    !strcmp(argv[i], "--mem")) {
			if (i + 1 == argc)
				return usage_err("%s needs a value", argv[i]);
			if (!strcmp(argv[i], "--socket")) {
				socket = argv[++i];
			} else if (!strcmp(argv[i], "--mem")) {
				for (mem = 0; mem < 3 && strcmp(argv[i + 1], mem_policies[mem]); mem++)
					;
				if (mem == 3)
					return usage_err("unknown memory policy \"%s\" (known: default, refuse, mirror)",
							 argv[i + 1]);
				i++;
			} else if (!strcmp(argv[++i], "net")) {
				type = VUB_TYPE_NET;
			} else {
				return usage_err("unknown instance type \"%s\" (known: net)", argv[i]);
			}
		} else if (argv[i][0] == '-' || name) {
			return usage_err("instance add: unexpected \"%s\"", argv[i]);
		} else {
			name = argv[i];
		}
	}
	if (!name || !socket)
		return usage_err("usage: instance add NAME --socket PATH [--type net] [--mem default|refuse|mirror]");
	snprintf(what, sizeof(what), "instance add %s", name);
	msg = new_msg(VUB_CMD_INSTANCE_ADD, NLM_F_ACK);
	nla_put_string(msg, VUB_A_INSTANCE_NAME, name);
	nla_put_string(msg, VUB_A_INSTANCE_SOCKET, socket);
	nla_put_u32(msg, VUB_A_INSTANCE_TYPE, type);
	if (mem != VUB_MEM_DEFAULT)
		nla_put_u32(msg, VUB_A_INSTANCE_MEM_POLICY, mem);
	err = transact(msg, &x);
	if (err == EEXIST)
		return error("%s: an instance with that name exists", what);
	if (err == EINVAL && !extack[0])
		return error("%s: invalid argument (NAME: 1..%d of [a-zA-Z0-9_.-], not \"control\";"
			     " PATH: absolute, below %d bytes)", what, VUB_NAME_MAX - 1,
			     VUB_SOCKET_MAX);
	return err ? report(what, err) : EXIT_OK;
}

/* Open devices of instance @name, or -1 if it cannot be asked. */
static long instance_devices(const char *name)
{
	struct nlattr *tb[VUB_A_MAX + 1] = { 0 };
	struct xfer x = { .save = tb };
	struct nl_msg *msg = new_msg(VUB_CMD_INSTANCE_GET, NLM_F_ACK);
	long n = -1;

	nla_put_string(msg, VUB_A_INSTANCE_NAME, name);
	if (!transact(msg, &x) && tb[VUB_A_INSTANCE_DEVICES])
		n = attr_uint(tb[VUB_A_INSTANCE_DEVICES]);
	if (x.saved)
		nlmsg_free(x.saved);
	return n;
}

static int instance_del(int argc, char **argv)
{
	const char *name = NULL;
	bool force = false;
	char what[128];
	struct nl_msg *msg;
	struct xfer x = { 0 };
	long n;
	int i, err;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--force"))
			force = true;
		else if (argv[i][0] == '-' || name)
			return usage_err("instance del: unexpected \"%s\"", argv[i]);
		else
			name = argv[i];
	}
	if (!name)
		return usage_err("usage: instance del NAME [--force]");
	snprintf(what, sizeof(what), "instance del %s", name);
	msg = new_msg(VUB_CMD_INSTANCE_DEL, NLM_F_ACK);
	nla_put_string(msg, VUB_A_INSTANCE_NAME, name);
	if (force)
		nla_put_flag(msg, VUB_A_FORCE);
	err = transact(msg, &x);
	if (err == ENOENT)
		return error("%s: no such instance", what);
	if (err == EBUSY) {
		n = instance_devices(name);
		if (n >= 0)
			return error("%s: %ld device%s open; use --force", what, n,
				     n == 1 ? "" : "s");
		return error("%s: devices open; use --force", what);
	}
	return err ? report(what, err) : EXIT_OK;
}

static int cmd_instance(int argc, char **argv)
{
	struct nl_msg *msg;
	char what[128];

	if (argc == 0 || matches(argv[0], "list"))
		return argc > 1 ? usage_err("instance list takes no argument") :
			dump(VUB_CMD_INSTANCE_GET, &k_instance, "instance list");
	if (matches(argv[0], "add"))
		return instance_add(argc - 1, argv + 1);
	if (matches(argv[0], "del") || matches(argv[0], "delete"))
		return instance_del(argc - 1, argv + 1);
	if (matches(argv[0], "show")) {
		if (argc != 2)
			return usage_err("usage: instance show NAME");
		snprintf(what, sizeof(what), "instance show %s", argv[1]);
		msg = new_msg(VUB_CMD_INSTANCE_GET, NLM_F_ACK);
		nla_put_string(msg, VUB_A_INSTANCE_NAME, argv[1]);
		return get_one(msg, &k_instance, what, "no such instance");
	}
	return usage_err("unknown instance command \"%s\"", argv[0]);
}

static int cmd_device(int argc, char **argv)
{
	struct nl_msg *msg;
	char what[64];
	uint32_t id;

	if (argc == 0 || matches(argv[0], "list"))
		return argc > 1 ? usage_err("device list takes no argument") :
			dump(VUB_CMD_DEVICE_GET, &k_device, "device list");
	if (!matches(argv[0], "show"))
		return usage_err("unknown device command \"%s\"", argv[0]);
	if (argc != 2 || !valid_u32(argv[1], &id))
		return usage_err("usage: device show ID (a number, from device list)");
	snprintf(what, sizeof(what), "device show %u", id);
	msg = new_msg(VUB_CMD_DEVICE_GET, NLM_F_ACK);
	nla_put_u32(msg, VUB_A_DEV_ID, id);
	return get_one(msg, &k_device, what, "no such device (not open)");
}

static int cmd_bridge(int argc, char **argv)
{
	if (argc > 1 || (argc == 1 && !matches(argv[0], "show")))
		return usage_err("usage: bridge [show]");
	return get_one(new_msg(VUB_CMD_BRIDGE_GET, NLM_F_ACK), &k_bridge, "bridge", NULL);
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_event(struct nl_msg *msg, void *arg)
{
	struct genlmsghdr *gh = genlmsg_hdr(nlmsg_hdr(msg));
	struct nlattr *tb[VUB_A_MAX + 1];
	size_t i;

	(void)arg;
	if (parse(msg, tb) < 0)
		return NL_SKIP;
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (events[i].cmd == gh->cmd)
			break;
	if (i == sizeof(events) / sizeof(events[0])) {
		if (json)
			printf("{\"event\":\"unknown\",\"cmd\":%u}\n", gh->cmd);
		else
			printf("unknown event %u\n", gh->cmd);
	} else {
		print_object(events[i].kind, tb, events[i].name);
	}
	fflush(stdout);
	return NL_OK;
}

/* Events until SIGINT or SIGTERM, one line (or JSON object) each. */
static int cmd_monitor(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, orig;
	struct pollfd pfd;
	int grp, ret;

	(void)argv;
	if (argc)
		return usage_err("monitor takes no argument");
	ret = connect_family();
	if (ret)
		return ret;
	grp = genl_ctrl_resolve_grp(sk, VUB_GENL_NAME, VUB_GENL_MCGRP_EVENTS);
	if (grp < 0)
		return error("monitor: multicast group \"%s\": %s", VUB_GENL_MCGRP_EVENTS,
			     nl_geterror(grp));
	nl_socket_disable_seq_check(sk);
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_event, NULL);
	nl_socket_set_buffer_size(sk, 1 << 20, 0);
	ret = nl_socket_add_membership(sk, grp);
	if (ret == -NLE_PERM)	/* the events name other users' VMMs */
		return error("monitor: need CAP_NET_ADMIN");
	if (ret < 0)
		return error("monitor: joining \"%s\": %s", VUB_GENL_MCGRP_EVENTS, nl_geterror(ret));
	nl_socket_set_nonblocking(sk);

	/* Signals only arrive inside ppoll(), so none is lost between checks. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	pfd.fd = nl_socket_get_fd(sk);
	pfd.events = POLLIN;
	while (!stop) {
		if (ppoll(&pfd, 1, NULL, &orig) < 0) {
			if (errno == EINTR)
				continue;
			return error("monitor: poll: %s", strerror(errno));
		}
		for (;;) {
			ret = nl_recvmsgs_default(sk);
			if (ret == -NLE_AGAIN)
				break;
			if (ret == -NLE_NOMEM) {	/* ENOBUFS: the socket overflowed */
				fprintf(stderr, PROG ": monitor: events lost (receive buffer overrun)\n");
				continue;
			}
			if (ret < 0)
				return error("monitor: %s", nl_geterror(ret));
		}
		if (ferror(stdout))
			return error("monitor: write error");
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "details", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c, ret;

	while ((c = getopt_long(argc, argv, "+jdh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'd':
			details = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (matches(argv[0], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!matches(argv[0], "instance") && !matches(argv[0], "device") &&
	    !matches(argv[0], "bridge") && !matches(argv[0], "monitor"))
		return usage_err("unknown object \"%s\"", argv[0]);

	if (matches(argv[0], "instance"))
		ret = cmd_instance(argc - 1, argv + 1);
	else if (matches(argv[0], "device"))
		ret = cmd_device(argc - 1, argv + 1);
	else if (matches(argv[0], "bridge"))
		ret = cmd_bridge(argc - 1, argv + 1);
	else
		ret = cmd_monitor(argc - 1, argv + 1);
	if (sk)
		nl_socket_free(sk);
	if (fflush(stdout) || ferror(stdout))
		return error("write error on standard output");
	return ret;
}
