// SPDX-License-Identifier: GPL-2.0
/* vub_nl: see vub_nl.h. */
#include <errno.h>
#include <stdlib.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <linux/vhost_user_bridge.h>

#include "vub_nl.h"

struct vub_nl {
	struct nl_sock *sk;
	int family;
};

struct vub_nl *vub_nl_open(void)
{
	struct vub_nl *nl = calloc(1, sizeof(*nl));

	if (!nl)
		return NULL;
	nl->sk = nl_socket_alloc();
	if (!nl->sk || genl_connect(nl->sk))
		goto fail;
	nl->family = genl_ctrl_resolve(nl->sk, VUB_GENL_NAME);
	if (nl->family < 0)
		goto fail;
	return nl;
fail:
	vub_nl_close(nl);
	errno = ENOENT;
	return NULL;
}

void vub_nl_close(struct vub_nl *nl)
{
	if (!nl)
		return;
	nl_socket_free(nl->sk);
	free(nl);
}

int vub_nl_backend_state(struct vub_nl *nl, uint32_t dev_id, uint32_t state,
			 uint64_t features, uint64_t missing, uint32_t reconnects)
{
	struct nl_msg *msg = nlmsg_alloc();
	int ret = -ENOMEM;

	if (!msg)
		return ret;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, 0,
			 VUB_CMD_BACKEND_SET, VUB_GENL_VERSION) ||
	    nla_put_u32(msg, VUB_A_DEV_ID, dev_id) ||
	    nla_put_u32(msg, VUB_A_BACKEND_STATE, state) ||
	    nla_put_u64(msg, VUB_A_BACKEND_FEATURES, features) ||
	    nla_put_u64(msg, VUB_A_BACKEND_OFFLOADS_MISSING, missing) ||
	    nla_put_u32(msg, VUB_A_BACKEND_RECONNECTS, reconnects))
		goto out;
	/* libnl returns its own error codes: report them as EIO */
	ret = nl_send_sync(nl->sk, msg) ? -EIO : 0;
	msg = NULL;	/* freed by nl_send_sync */
out:
	nlmsg_free(msg);
	return ret;
}
