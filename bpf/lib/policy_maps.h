/* Maps of the compiled policy (written by userspace/dataplane from a CompiledPolicy, through
 * mmap for the double-buffered arrays) and of the
 * classification results. Double-buffered maps hold two generation halves; xfp_gen says which
 * half is live and where it starts (bpf/include/xfp/abi.h). All are static maps so lookups are
 * inlined by the verifier (no map-in-map indirection on the per-packet path). */
#ifndef XFP_BPF_POLICY_MAPS_H
#define XFP_BPF_POLICY_MAPS_H

#include <linux/bpf.h>
#include <linux/types.h>

/* libbpf headers use the UAPI types above */
#include <bpf/bpf_helpers.h>

#include "xfp/abi.h"

/* key 0 -> the policy generation (low bit: the live half). mmapable: the commit's flip is one
 * 64-bit store from user space. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct xfp_gen);
} xfp_gen SEC(".maps");

/* key 0 -> run-time switches (XFP_CFG_*) */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct xfp_cfg);
} xfp_cfg SEC(".maps");

/* half (0/1) -> where that generation half starts in the double-buffered maps */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, struct xfp_half);
} xfp_halves SEC(".maps");

/* layer slot (+ half offset) -> tree root */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 2 * XFP_LS_COUNT);
  __type(key, __u32);
  __type(value, struct xfp_layer_root);
} xfp_layers SEC(".maps");

/* node index -> cut-tree node */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 2 * XFP_NODE_CAP);
  __type(key, __u32);
  __type(value, struct xfp_node);
} xfp_nodes SEC(".maps");

/* leaf entry -> box index (leaf lists, in arbitration order) */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 2 * XFP_CAND_CAP);
  __type(key, __u32);
  __type(value, struct xfp_cand);
} xfp_cands SEC(".maps");

/* box index -> conjunction of word tests */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 2 * XFP_BOX_CAP);
  __type(key, __u32);
  __type(value, struct xfp_box);
} xfp_boxes SEC(".maps");

/* filter index -> action, sublayer rank, counter slot, WFP filterId */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 2 * XFP_FILTER_CAP);
  __type(key, __u32);
  __type(value, struct xfp_filter);
} xfp_filters SEC(".maps");

/* counter slot -> per-CPU hits of the filter that decided (stable across generations) */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, XFP_COUNTER_CAP);
  __type(key, __u32);
  __type(value, struct xfp_counter);
} xfp_counters SEC(".maps");

/* FWPS callout id -> non-zero while the callout runtime serves it */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, XFP_CALLOUT_CAP);
  __type(key, __u32);
  __type(value, __u32);
} xfp_callouts SEC(".maps");

/* layer slot -> per-CPU verdict statistics */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, XFP_LS_COUNT);
  __type(key, __u32);
  __type(value, struct xfp_layer_stats);
} xfp_verdicts SEC(".maps");

/* key 0 -> this CPU's packet scratch (key words, per-layer results) */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct xfp_scratch);
} xfp_scratch SEC(".maps");

/* key 0 -> this CPU's leaf-walk state (see struct xfp_walk) */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct xfp_walk);
} xfp_walk SEC(".maps");

/* flow hash -> per-CPU cached verdict of the IP packet + transport layers */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, XFP_FLOW_CACHE_SIZE);
  __type(key, __u32);
  __type(value, struct xfp_flow_entry);
} xfp_flows SEC(".maps");

/* key 0 -> the callout runtime's heartbeat (a punt needs a live runtime) */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct xfp_runtime);
} xfp_runtime SEC(".maps");

/* key 0 -> which ALE auth layers have filters, and the ALE policy generation */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct xfp_ale_cfg);
} xfp_ale_cfg SEC(".maps");

/* ALE flows: 5-tuple from this host's point of view -> the flow's ALE verdict */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, XFP_ALE_FLOWS);
  __type(key, struct xfp_ale_key);
  __type(value, struct xfp_ale_flow);
} xfp_ale_flows SEC(".maps");

/* net events of both hooks (xfp_net_event records) */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1u << 20);
} xfp_events SEC(".maps");

/* key 0 -> net events this CPU may still emit (refilled by the consumer) */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} xfp_ev_budget SEC(".maps");

/* key 0 -> this CPU's net-event counters */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct xfp_event_stats);
} xfp_event_stats SEC(".maps");

#endif /* XFP_BPF_POLICY_MAPS_H */
