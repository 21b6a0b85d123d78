/* Maps of the stage-0 fast path (parse + count), shared by the XDP and tc objects; each object
 * gets its own instance. */
#ifndef XFP_BPF_MAPS_H
#define XFP_BPF_MAPS_H

#include <linux/bpf.h>
#include <linux/types.h>

/* libbpf headers use the UAPI types above */
#include <bpf/bpf_helpers.h>

#include "xfp/abi.h"

/* key 0 -> the last packet this CPU parsed (read back by tests) */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct xfp_pkt);
} xfp_last_pkt SEC(".maps");

/* key 0 -> per-class packet counters of this CPU */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct xfp_parse_counters);
} xfp_stats SEC(".maps");

#endif /* XFP_BPF_MAPS_H */
