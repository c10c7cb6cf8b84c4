#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Write the seed corpus of fuzz_vu_codec into tests/unit/fuzz/seeds/.

Mode byte 0/1: a valid request (front-end / back-end channel), prefixed by
its fd count.  Mode 2: request selector, fd count, reply.  Mode 3: the
replies a well-behaved back-end sends to the conversation fuzz_frontend()
runs, each as [u16 length][message], for a DPDK-like, a legacy and a
qemu-storage-daemon-like back-end."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "seeds")
REPLY = 0x5


def msg(req, payload=b"", flags=1):
    return struct.pack("<III", req, flags, len(payload)) + payload


def u64(v):
    return struct.pack("<Q", v)


def state(i, n):
    return struct.pack("<II", i, n)


def frame(m):
    return struct.pack("<H", len(m)) + m


def conversation(features, proto, reply_ack, status, slots):
    """Replies, in order, to fuzz_frontend()'s calls."""
    r = []
    ack = lambda req: r.append(frame(msg(req, u64(0), REPLY))) if reply_ack else None
    barrier = lambda: None if reply_ack else r.append(frame(msg(1, u64(features), REPLY)))
    r.append(frame(msg(1, u64(features), REPLY)))           # GET_FEATURES
    if features & (1 << 30):
        r.append(frame(msg(15, u64(proto), REPLY)))          # GET_PROTOCOL_FEATURES
        barrier()                                           # after SET_PROTOCOL_FEATURES
        if proto & 1:
            r.append(frame(msg(17, u64(1), REPLY)))          # GET_QUEUE_NUM
        if proto & (1 << 15):
            r.append(frame(msg(36, u64(slots), REPLY)))      # GET_MAX_MEM_SLOTS
    ack(3)                                                  # SET_OWNER
    ack(2); barrier()                                       # SET_FEATURES
    if status:
        ack(39)                                             # SET_STATUS
    if proto & (1 << 15):
        ack(37); barrier()                                  # ADD_MEM_REG
    else:
        ack(5); barrier()                                   # SET_MEM_TABLE
    ack(13)                                                 # CALL forwarded at once
    for _ in range(2):
        for req in (8, 10, 9, 12, 13):                      # NUM BASE ADDR KICK CALL
            ack(req)
        if features & (1 << 30):
            ack(18)                                         # ENABLE
        barrier()
        if status:
            ack(39)                                         # DRIVER_OK
        if _ == 0:
            r.append(frame(msg(11, state(0, 4242), REPLY)))  # GET_VRING_BASE
    return b"".join(r)


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        # mode 0: front-end requests
        "req-set-features": b"\x00\x00" + msg(2, u64(1 << 32)),
        "req-mem-table": b"\x00\x01" + msg(5, struct.pack("<II", 1, 0) +
                                           struct.pack("<QQQQ", 0, 4096, 0x7f0000000000, 0)),
        "req-vring-addr": b"\x00\x00" + msg(9, struct.pack("<IIQQQQ", 1, 0, 0x1000, 0x3000, 0x2000, 0)),
        "req-kick": b"\x00\x01" + msg(12, u64(1)),
        "req-call-nofd": b"\x00\x00" + msg(13, u64(0x100)),
        "req-add-mem-reg": b"\x00\x01" + msg(37, u64(0) + struct.pack("<QQQQ", 0, 4096, 0x1000, 0)),
        "req-get-config": b"\x00\x00" + msg(24, struct.pack("<III", 0, 8, 0) + bytes(8)),
        # mode 1: back-end requests
        "breq-host-notifier": b"\x01\x01" + msg(3, struct.pack("<QQQ", 1, 4096, 0)),
        "breq-iotlb": b"\x01\x00" + msg(1, struct.pack("<QQQBB6x", 0x1000, 0x1000, 0x2000, 3, 1), 1 | 8),
        # mode 2: replies
        "reply-features": b"\x02\x00\x00" + msg(1, u64(0x140000000), REPLY),
        "reply-vring-base": b"\x02\x02\x00" + msg(11, state(1, 7), REPLY),
        "reply-config": b"\x02\x03\x00" + msg(24, struct.pack("<III", 0, 60, 0) + bytes(60), REPLY),
        "reply-inflight": b"\x02\x04\x01" + msg(31, struct.pack("<QQHHI", 4096, 0, 2, 256, 0), REPLY),
        "reply-log-base-empty": b"\x02\x05\x00" + msg(6, b"", REPLY),
        # mode 3: whole conversations
        "conv-dpdk": b"\x03" + conversation(0xd7c66e7cb, 0x10cbf, True, True, 0),
        "conv-dpdk-no-reply-ack": b"\x03" + conversation(0xd7c66e7cb, 0x10cb7, False, True, 0),
        "conv-legacy": b"\x03" + conversation(0x100000000, 0, False, False, 0),
        "conv-qsd": b"\x03" + conversation(0x175007e46, 0x8f2b, True, False, 32),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
