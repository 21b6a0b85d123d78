// Object lint (STYLE §3), no privileges: every built .bpf.o opens (no load); object name <= 8
// characters; programs and maps carry the xfp_ prefix and fit the kernel's 15 visible characters;
// every map of ours is BTF-typed (key and value type ids set).
#include <bpf/libbpf.h>

#include <cstring>
#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace {

struct ObjectCloser {
  void operator()(bpf_object* o) const { bpf_object__close(o); }
};

void lint(const char* path, const char* expectedName) {
  SCOPED_TRACE(path);
  std::unique_ptr<bpf_object, ObjectCloser> obj(bpf_object__open_file(path, nullptr));
  ASSERT_NE(obj, nullptr) << "bpf_object__open_file failed";
  const std::string name = bpf_object__name(obj.get());
  EXPECT_EQ(name, expectedName);
  EXPECT_LE(name.size(), 8U);
  int progs = 0;
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, obj.get()) {
    const std::string p = bpf_program__name(prog);
    EXPECT_EQ(p.rfind("xfp_", 0), 0U) << p;
    EXPECT_LE(p.size(), 15U) << p;
    ++progs;
  }
  EXPECT_GE(progs, 1);
  int maps = 0;
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, obj.get()) {
    const std::string m = bpf_map__name(map);
    if (m.find('.') != std::string::npos) {
      continue;  // libbpf's internal maps (<obj>.rodata, .bss ...)
    }
    EXPECT_EQ(m.rfind("xfp_", 0), 0U) << m;
    EXPECT_LE(m.size(), 15U) << m;
    if (bpf_map__type(map) != BPF_MAP_TYPE_RINGBUF) {  // a ring buffer has no key or value
      EXPECT_NE(bpf_map__btf_key_type_id(map), 0U) << m;
      EXPECT_NE(bpf_map__btf_value_type_id(map), 0U) << m;
    }
    ++maps;
  }
  EXPECT_GE(maps, 2);
}

TEST(ObjectLint, XdpObject) {
  lint(XFP_BPF_OBJ_xfp_xdp, "xfp_xdp");
}
TEST(ObjectLint, TcObject) {
  lint(XFP_BPF_OBJ_xfp_tc, "xfp_tc");
}

}  // namespace
