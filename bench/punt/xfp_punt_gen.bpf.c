/* Traffic generator of the punt benchmark (object xfp_punt_gen): run with BPF_PROG_TEST_RUN in
 * live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES) on the generator's veth end, it rewrites the UDP
 * source port of the frame to spread the runs over `flows` flows and returns XDP_TX, which sends
 * the frame out of that veth end to its peer. The UDP checksum is 0 (none, legal for IPv4), so
 * changing the port needs no checksum update. Frame pages are recycled by the test run's page pool
 * without being re-initialised, so the port is written on every run. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>

/* libbpf headers use the UAPI types above */
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Set before load (skeleton rodata). */
volatile const __u32 flows = 64;
volatile const __u16 sport_base = 40000;

/* Runs so far: frames offered to XDP_TX (read through the skeleton's mmap'ed bss). One
 * BPF_PROG_TEST_RUN call runs on one CPU, and one thread drives the generator. */
__u64 runs = 0;

SEC("xdp")
int xfp_punt_gen(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct udphdr* udp = data + sizeof(struct ethhdr) + sizeof(struct iphdr);
  if ((void*)(udp + 1) > data_end) {
    return XDP_ABORTED;
  }
  __u64 n = runs;
  runs = n + 1;
  __u32 f = flows ? flows : 1;
  udp->source = bpf_htons((__u16)(sport_base + (__u16)(n % f)));
  return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
