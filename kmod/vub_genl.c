// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-user-bridge: administration over generic netlink (VUB_GENL_NAME).
 *
 * Instances are added and removed here; open devices, the attached daemon
 * and the channel's counters are reported; events go to the "events"
 * multicast group.  Everything that changes state needs CAP_NET_ADMIN, and
 * so does everything that tells about other users' VMMs: open devices,
 * instances' back-end sockets, events.  The rest (instances' names and
 * device counts, the daemon's attachment) is for anyone, like /dev.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <net/genetlink.h>

#include "vub.h"

static struct genl_family vub_genl_family;
static bool vub_genl_registered;

static const struct nla_policy vub_policy[VUB_A_MAX + 1] = {
	[VUB_A_INSTANCE_NAME]	= { .type = NLA_NUL_STRING, .len = VUB_NAME_MAX - 1 },
	[VUB_A_INSTANCE_SOCKET]	= { .type = NLA_NUL_STRING, .len = VUB_SOCKET_MAX - 1 },
	[VUB_A_INSTANCE_TYPE]	= { .type = NLA_U32 },
	[VUB_A_INSTANCE_MEM_POLICY] = NLA_POLICY_MAX(NLA_U32, VUB_MEM_MIRROR),
	[VUB_A_FORCE]		= { .type = NLA_FLAG },
	[VUB_A_DEV_ID]		= { .type = NLA_U32 },
	[VUB_A_BACKEND_STATE]	= NLA_POLICY_MAX(NLA_U32, VUB_BACKEND_LOST),
	[VUB_A_BACKEND_FEATURES] = { .type = NLA_U64 },
	[VUB_A_BACKEND_OFFLOADS_MISSING] = { .type = NLA_U64 },
	[VUB_A_BACKEND_RECONNECTS] = { .type = NLA_U32 },
};

/*
 * An instance; its back-end socket only for @admin (CAP_NET_ADMIN): the node
 * names are public in /dev, where each one leads is the administrator's.
 */
static int vub_put_instance(struct sk_buff *skb, const struct vub_instance *inst,
			    bool admin)
{
	if (nla_put_u32(skb, VUB_A_INSTANCE_ID, inst->id) ||
	    nla_put_string(skb, VUB_A_INSTANCE_NAME, inst->name) ||
	    (admin &&
	     nla_put_string(skb, VUB_A_INSTANCE_SOCKET, inst->socket)) ||
	    nla_put_u32(skb, VUB_A_INSTANCE_TYPE, inst->type) ||
	    (inst->mem_policy &&
	     nla_put_u32(skb, VUB_A_INSTANCE_MEM_POLICY, inst->mem_policy)) ||
	    nla_put_u32(skb, VUB_A_INSTANCE_DEVICES,
			atomic_read(&inst->nr_devices)))
		return -EMSGSIZE;
	return 0;
}

/* Under the xa_lock of vub_devs, which keeps @dev alive. */
static int vub_put_dev(struct sk_buff *skb, const struct vub_dev *dev)
{
	u64 lat[VUB_LATENCY_BUCKETS];
	unsigned int i;

	for (i = 0; i < VUB_LATENCY_BUCKETS; i++)
		lat[i] = READ_ONCE(dev->latency[i]);
	if (nla_put_u32(skb, VUB_A_DEV_ID, dev->id) ||
	    nla_put_u32(skb, VUB_A_DEV_PID, READ_ONCE(dev->pid)) ||
	    nla_put_string(skb, VUB_A_DEV_COMM, dev->comm) ||
	    nla_put_u32(skb, VUB_A_INSTANCE_ID, dev->inst->id) ||
	    nla_put_string(skb, VUB_A_INSTANCE_NAME, dev->inst->name) ||
	    nla_put_u32(skb, VUB_A_DEV_STATE, vub_dev_state(dev)) ||
	    nla_put_u64_64bit(skb, VUB_A_DEV_FEATURES, READ_ONCE(dev->features),
			      VUB_A_PAD) ||
	    nla_put_u32(skb, VUB_A_DEV_MEM_REGIONS, READ_ONCE(dev->mem_regions)) ||
	    nla_put_u32(skb, VUB_A_DEV_RINGS, READ_ONCE(dev->rings)) ||
	    nla_put_u64_64bit(skb, VUB_A_DEV_IOCTLS, READ_ONCE(dev->ioctls),
			      VUB_A_PAD) ||
	    nla_put_u64_64bit(skb, VUB_A_DEV_ERRORS, READ_ONCE(dev->errors),
			      VUB_A_PAD) ||
	    nla_put(skb, VUB_A_DEV_LATENCY, sizeof(lat), lat) ||
	    nla_put_u32(skb, VUB_A_BACKEND_STATE, READ_ONCE(dev->backend_state)) ||
	    nla_put_u64_64bit(skb, VUB_A_BACKEND_FEATURES,
			      READ_ONCE(dev->backend_features), VUB_A_PAD) ||
	    nla_put_u64_64bit(skb, VUB_A_BACKEND_OFFLOADS_MISSING,
			      READ_ONCE(dev->offloads_missing), VUB_A_PAD) ||
	    nla_put_u32(skb, VUB_A_BACKEND_RECONNECTS,
			READ_ONCE(dev->backend_reconnects)))
		return -EMSGSIZE;
	return 0;
}

static int vub_put_bridge(struct sk_buff *skb, const struct vub_bridge_info *b)
{
	if (nla_put_u8(skb, VUB_A_BRIDGE_ATTACHED, b->attached) ||
	    nla_put_u64_64bit(skb, VUB_A_BRIDGE_REQUESTS, b->requests,
			      VUB_A_PAD) ||
	    nla_put_u64_64bit(skb, VUB_A_BRIDGE_TIMEOUTS, b->timeouts,
			      VUB_A_PAD) ||
	    nla_put_u64_64bit(skb, VUB_A_BRIDGE_REFUSED, b->refused,
			      VUB_A_PAD))
		return -EMSGSIZE;
	if (!b->pid)
		return 0;
	if (nla_put_u32(skb, VUB_A_BRIDGE_PID, b->pid) ||
	    nla_put_string(skb, VUB_A_BRIDGE_COMM, b->comm) ||
	    nla_put_u32(skb, VUB_A_BRIDGE_TAGS, b->tags) ||
	    nla_put_u32(skb, VUB_A_BRIDGE_INFLIGHT, b->inflight) ||
	    nla_put_u32(skb, VUB_A_BRIDGE_QUEUED, b->queued) ||
	    nla_put_u32(skb, VUB_A_BRIDGE_QUEUED_PROCS, b->queued_procs))
		return -EMSGSIZE;
	return 0;
}

/* Reply to @info with one message of @cmd filled by @fill(@obj). */
static int vub_reply(struct genl_info *info, u8 cmd,
		     int (*fill)(struct sk_buff *, const void *), const void *obj)
{
	struct sk_buff *skb;
	void *hdr;

	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return -ENOMEM;
	hdr = genlmsg_put_reply(skb, info, &vub_genl_family, 0, cmd);
	if (!hdr || fill(skb, obj)) {
		nlmsg_free(skb);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return genlmsg_reply(skb, info);
}

/* Multicast one event of @cmd filled by @fill(@obj); best effort. */
static void vub_event(u8 cmd, int (*fill)(struct sk_buff *, const void *),
		      const void *obj, gfp_t gfp)
{
	struct sk_buff *skb;
	void *hdr;

	if (!READ_ONCE(vub_genl_registered))
		return;
	skb = genlmsg_new(NLMSG_GOODSIZE, gfp);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &vub_genl_family, 0, cmd);
	if (!hdr || fill(skb, obj)) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	genlmsg_multicast(&vub_genl_family, skb, 0, 0, gfp);
}

/* For administrators: replies to them and events (an admin-only group). */
static int vub_fill_instance(struct sk_buff *skb, const void *obj)
{
	return vub_put_instance(skb, obj, true);
}

static int vub_fill_instance_public(struct sk_buff *skb, const void *obj)
{
	return vub_put_instance(skb, obj, false);
}

static int vub_fill_dev(struct sk_buff *skb, const void *obj)
{
	return vub_put_dev(skb, obj);
}

static int vub_fill_bridge(struct sk_buff *skb, const void *obj)
{
	return vub_put_bridge(skb, obj);
}

void vub_genl_dev_event(u8 cmd, struct vub_dev *dev)
{
	vub_event(cmd, vub_fill_dev, dev, GFP_KERNEL);
}

void vub_genl_instance_event(u8 cmd, struct vub_instance *inst)
{
	vub_event(cmd, vub_fill_instance, inst, GFP_KERNEL);
}

void vub_genl_bridge_event(u8 cmd, const struct vub_bridge_info *info)
{
	vub_event(cmd, vub_fill_bridge, info, GFP_KERNEL);
}

static int vub_cmd_instance_add(struct sk_buff *skb, struct genl_info *info)
{
	u32 type = VUB_TYPE_NET, mem_policy = VUB_MEM_DEFAULT;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, VUB_A_INSTANCE_NAME) ||
	    GENL_REQ_ATTR_CHECK(info, VUB_A_INSTANCE_SOCKET))
		return -EINVAL;
	if (info->attrs[VUB_A_INSTANCE_TYPE])
		type = nla_get_u32(info->attrs[VUB_A_INSTANCE_TYPE]);
	if (info->attrs[VUB_A_INSTANCE_MEM_POLICY])
		mem_policy = nla_get_u32(info->attrs[VUB_A_INSTANCE_MEM_POLICY]);
	ret = vub_instance_add(nla_data(info->attrs[VUB_A_INSTANCE_NAME]),
			       nla_data(info->attrs[VUB_A_INSTANCE_SOCKET]),
			       type, mem_policy);
	if (ret == -EINVAL)
		NL_SET_ERR_MSG(info->extack,
			       "name: 1-31 of [A-Za-z0-9_.-], not \"control\"; socket: an absolute path; type: net; mem policy: 0-2");
	else if (ret == -EEXIST)
		NL_SET_ERR_MSG(info->extack, "an instance of that name exists");
	return ret;
}

static int vub_cmd_instance_del(struct sk_buff *skb, struct genl_info *info)
{
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, VUB_A_INSTANCE_NAME))
		return -EINVAL;
	ret = vub_instance_del(nla_data(info->attrs[VUB_A_INSTANCE_NAME]),
			       nla_get_flag(info->attrs[VUB_A_FORCE]));
	if (ret == -EBUSY)
		NL_SET_ERR_MSG(info->extack,
			       "devices of the instance are open; force to remove the node anyway");
	return ret;
}

static int vub_cmd_instance_get(struct sk_buff *skb, struct genl_info *info)
{
	struct vub_instance *inst = NULL;
	struct vub_instance *i;
	unsigned long id;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, VUB_A_INSTANCE_NAME))
		return -EINVAL;
	mutex_lock(&vub_inst_mutex);
	xa_for_each(&vub_instances, id, i)
		if (!strcmp(i->name, nla_data(info->attrs[VUB_A_INSTANCE_NAME])))
			inst = i;
	ret = inst ? vub_reply(info, VUB_CMD_INSTANCE_GET,
			       netlink_capable(skb, CAP_NET_ADMIN) ?
			       vub_fill_instance : vub_fill_instance_public,
			       inst) : -ENOENT;
	mutex_unlock(&vub_inst_mutex);
	return ret;
}

/* cb->args[0]: the next instance id; 0 is the default node. */
static int vub_dump_instances(struct sk_buff *skb, struct netlink_callback *cb)
{
	bool admin = netlink_capable(cb->skb, CAP_NET_ADMIN);
	struct vub_instance *inst;
	unsigned long id = cb->args[0];
	void *hdr;

	mutex_lock(&vub_inst_mutex);
	for (;;) {
		inst = id ? xa_find(&vub_instances, &id, ULONG_MAX, XA_PRESENT) :
			    &vub_default_instance;
		if (!inst)
			break;
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &vub_genl_family,
				  NLM_F_MULTI, VUB_CMD_INSTANCE_GET);
		if (!hdr)
			break;
		if (vub_put_instance(skb, inst, admin)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		id++;
	}
	mutex_unlock(&vub_inst_mutex);
	cb->args[0] = id;
	return skb->len;
}

static int vub_cmd_device_get(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	struct vub_dev *dev;
	void *hdr;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, VUB_A_DEV_ID))
		return -EINVAL;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &vub_genl_family, 0,
				VUB_CMD_DEVICE_GET);
	ret = -EMSGSIZE;
	if (!hdr)
		goto err;
	xa_lock(&vub_devs);
	dev = xa_load(&vub_devs, nla_get_u32(info->attrs[VUB_A_DEV_ID]));
	ret = dev ? vub_put_dev(msg, dev) : -ENOENT;
	xa_unlock(&vub_devs);
	if (ret)
		goto err;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
err:
	nlmsg_free(msg);
	return ret;
}

/* cb->args[0]: the next device id. */
static int vub_dump_devices(struct sk_buff *skb, struct netlink_callback *cb)
{
	unsigned long id = cb->args[0];
	struct vub_dev *dev;
	void *hdr;

	xa_lock(&vub_devs);
	xa_for_each_start(&vub_devs, id, dev, cb->args[0]) {
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &vub_genl_family,
				  NLM_F_MULTI, VUB_CMD_DEVICE_GET);
		if (!hdr)
			break;
		if (vub_put_dev(skb, dev)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		cb->args[0] = id + 1;
	}
	xa_unlock(&vub_devs);
	return skb->len;
}

static int vub_cmd_bridge_get(struct sk_buff *skb, struct genl_info *info)
{
	struct vub_bridge_info b;

	vub_chan_info(&b);
	return vub_reply(info, VUB_CMD_BRIDGE_GET, vub_fill_bridge, &b);
}

struct vub_backend_event {
	struct vub_dev	*dev;
	u32		state;
	u64		features;
	u64		missing;
	u32		reconnects;
};

static int vub_fill_backend(struct sk_buff *skb, const void *obj)
{
	const struct vub_backend_event *e = obj;

	if (nla_put_u32(skb, VUB_A_DEV_ID, e->dev->id) ||
	    nla_put_u32(skb, VUB_A_INSTANCE_ID, e->dev->inst->id) ||
	    nla_put_string(skb, VUB_A_INSTANCE_NAME, e->dev->inst->name) ||
	    nla_put_u32(skb, VUB_A_BACKEND_STATE, e->state) ||
	    nla_put_u64_64bit(skb, VUB_A_BACKEND_FEATURES, e->features,
			      VUB_A_PAD) ||
	    nla_put_u64_64bit(skb, VUB_A_BACKEND_OFFLOADS_MISSING, e->missing,
			      VUB_A_PAD) ||
	    nla_put_u32(skb, VUB_A_BACKEND_RECONNECTS, e->reconnects))
		return -EMSGSIZE;
	return 0;
}

static int vub_cmd_backend_set(struct sk_buff *skb, struct genl_info *info)
{
	struct vub_backend_event e;
	int ret = 0;

	if (GENL_REQ_ATTR_CHECK(info, VUB_A_DEV_ID) ||
	    GENL_REQ_ATTR_CHECK(info, VUB_A_BACKEND_STATE))
		return -EINVAL;
	e.state = nla_get_u32(info->attrs[VUB_A_BACKEND_STATE]);
	e.features = info->attrs[VUB_A_BACKEND_FEATURES] ?
		     nla_get_u64(info->attrs[VUB_A_BACKEND_FEATURES]) : 0;
	e.missing = info->attrs[VUB_A_BACKEND_OFFLOADS_MISSING] ?
		    nla_get_u64(info->attrs[VUB_A_BACKEND_OFFLOADS_MISSING]) : 0;
	e.reconnects = info->attrs[VUB_A_BACKEND_RECONNECTS] ?
		       nla_get_u32(info->attrs[VUB_A_BACKEND_RECONNECTS]) : 0;
	xa_lock(&vub_devs);
	e.dev = xa_load(&vub_devs, nla_get_u32(info->attrs[VUB_A_DEV_ID]));
	if (e.dev) {
		WRITE_ONCE(e.dev->backend_state, e.state);
		WRITE_ONCE(e.dev->backend_features, e.features);
		WRITE_ONCE(e.dev->offloads_missing, e.missing);
		WRITE_ONCE(e.dev->backend_reconnects, e.reconnects);
		vub_event(VUB_CMD_EVT_BACKEND, vub_fill_backend, &e,
			  GFP_ATOMIC);
	} else {
		ret = -ENOENT;
	}
	xa_unlock(&vub_devs);
	return ret;
}

static const struct genl_small_ops vub_genl_ops[] = {
	{
		.cmd	= VUB_CMD_INSTANCE_ADD,
		.doit	= vub_cmd_instance_add,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= VUB_CMD_INSTANCE_DEL,
		.doit	= vub_cmd_instance_del,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= VUB_CMD_INSTANCE_GET,
		.doit	= vub_cmd_instance_get,
		.dumpit	= vub_dump_instances,
	},
	{
		/* other users' VMMs: pid, comm, features, state */
		.cmd	= VUB_CMD_DEVICE_GET,
		.doit	= vub_cmd_device_get,
		.dumpit	= vub_dump_devices,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= VUB_CMD_BRIDGE_GET,
		.doit	= vub_cmd_bridge_get,
	},
	{
		.cmd	= VUB_CMD_BACKEND_SET,
		.doit	= vub_cmd_backend_set,
		.flags	= GENL_ADMIN_PERM,
	},
};

static const struct genl_multicast_group vub_genl_mcgrps[] = {
	/* device events name other users' VMMs */
	{ .name = VUB_GENL_MCGRP_EVENTS, .flags = GENL_MCAST_CAP_NET_ADMIN },
};

static struct genl_family vub_genl_family = {
	.name		= VUB_GENL_NAME,
	.version	= VUB_GENL_VERSION,
	.maxattr	= VUB_A_MAX,
	.policy		= vub_policy,
	.netnsok	= false,
	.module		= THIS_MODULE,
	.small_ops	= vub_genl_ops,
	.n_small_ops	= ARRAY_SIZE(vub_genl_ops),
	.mcgrps		= vub_genl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(vub_genl_mcgrps),
};

int __init vub_genl_init(void)
{
	int ret = genl_register_family(&vub_genl_family);

	if (!ret)
		WRITE_ONCE(vub_genl_registered, true);
	return ret;
}

void vub_genl_exit(void)
{
	WRITE_ONCE(vub_genl_registered, false);
	genl_unregister_family(&vub_genl_family);
}
