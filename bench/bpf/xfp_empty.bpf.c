/* The reference program of the fast-path benchmark (object xfp_empty): an XDP program that does
 * nothing, measured with BPF_PROG_TEST_RUN in the same run as xfp_xdp_in so the table can give
 * xfp's cost as a ratio to the fixed cost of running any XDP program. */
#include <linux/bpf.h>

/* libbpf headers use the UAPI types above */
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xfp_empty_prog(struct xdp_md* xdp) {
  (void)xdp;
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
