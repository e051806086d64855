// Fibers of the SIMT emulator (see fiber.h). Why not ucontext everywhere: swapcontext saves and
// restores the signal mask with a system call per switch (measured on this 2-core machine under
// load: 860-1440 ns per switch against 28 ns for the switch below), and the emulator switches
// 64 times per warp collective.
#include "runtime/emulation/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define ATTNCC_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ATTNCC_FIBER_ASAN 1
#endif
#endif

#if defined(ATTNCC_FIBER_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if !defined(__x86_64__) || defined(ATTNCC_FIBER_UCONTEXT)
#define ATTNCC_FIBER_USE_UCONTEXT 1
#include <ucontext.h>
#endif

#include "attncc/error.h"

namespace attncc::emulation {

size_t default_fiber_stack_bytes() {
#if defined(ATTNCC_FIBER_ASAN)
  return size_t{1} << 20;
#else
  return size_t{256} << 10;  // only the touched pages are backed by memory
#endif
}

FiberStack::FiberStack(size_t bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_ = (bytes + page - 1) / page * page;
  mapping_bytes_ = size_ + page;
  mapping_ = mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                  -1, 0);
  if (mapping_ == MAP_FAILED) {
    mapping_ = nullptr;
    throw Error(ErrorCode::kInternal, "cuda emulation: error: cannot map a " +
                                          std::to_string(mapping_bytes_) +
                                          "-byte fiber stack; lower ATTNCC_NUM_THREADS");
  }
  // The guard page: stacks grow down, so it sits below the usable range.
  mprotect(mapping_, page, PROT_NONE);
  bottom_ = static_cast<char*>(mapping_) + page;
}

FiberStack::~FiberStack() {
  if (mapping_ != nullptr) munmap(mapping_, mapping_bytes_);
}

void FiberStack::reset_after_abandon() {
#if defined(ATTNCC_FIBER_ASAN)
  // Frames that never returned leave their redzones poisoned; the next fiber on this stack
  // would trip over them.
  __asan_unpoison_memory_region(bottom_, size_);
#endif
}

namespace {

#if defined(ATTNCC_FIBER_ASAN)
void before_switch(void** fake_stack_save, const FiberContext& to) {
  __sanitizer_start_switch_fiber(fake_stack_save, to.stack_bottom, to.stack_size);
}
void after_switch(FiberContext& resumed) {
  const void* previous_bottom = nullptr;
  size_t previous_size = 0;
  __sanitizer_finish_switch_fiber(resumed.fake_stack, &previous_bottom, &previous_size);
}
#else
void before_switch(void**, const FiberContext&) {}
void after_switch(FiberContext&) {}
#endif

}  // namespace

void start_fiber(FiberContext& came_from) {
#if defined(ATTNCC_FIBER_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &came_from.stack_bottom, &came_from.stack_size);
#else
  (void)came_from;
#endif
}

#if !defined(ATTNCC_FIBER_USE_UCONTEXT)

// x86-64 System V: a switch pushes the callee-saved registers on the running stack, stores the
// stack pointer, loads the other one and pops the same. The x87 control word and MXCSR are not
// switched (Boost.Context does): nothing in a kernel changes rounding modes, and saving them
// made a switch 2.5x slower here (70 ns against 28 ns on the loaded machine). A new fiber's stack
// is laid out as if it had switched away just before calling the trampoline, which calls
// function(argument) from r12/r13.
extern "C" void attncc_fiber_switch(void** save_stack_pointer, void* next_stack_pointer);
extern "C" void attncc_fiber_trampoline();
asm(R"(
  .text
  .p2align 4
  .type attncc_fiber_switch, @function
attncc_fiber_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size attncc_fiber_switch, .-attncc_fiber_switch

  .p2align 4
  .type attncc_fiber_trampoline, @function
attncc_fiber_trampoline:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size attncc_fiber_trampoline, .-attncc_fiber_trampoline
)");

void make_context(FiberContext& context, FiberStack& stack, void (*function)(void*),
                  void* argument) {
  // Top of the stack, 16-byte aligned: after the switch's final `ret` into the trampoline the
  // stack pointer is top - 16, aligned as a call requires.
  auto top = reinterpret_cast<uintptr_t>(stack.bottom()) + stack.size();
  top &= ~uintptr_t{15};
  auto* slots = reinterpret_cast<uint64_t*>(top - 72);
  slots[0] = 0;                                                   // r15
  slots[1] = 0;                                                   // r14
  slots[2] = reinterpret_cast<uint64_t>(function);                // r13
  slots[3] = reinterpret_cast<uint64_t>(argument);                // r12
  slots[4] = 0;                                                   // rbx
  slots[5] = 0;                                                   // rbp
  slots[6] = reinterpret_cast<uint64_t>(&attncc_fiber_trampoline);  // return address
  slots[7] = 0;
  slots[8] = 0;
  context.stack_pointer = slots;
  context.stack_bottom = stack.bottom();
  context.stack_size = stack.size();
  context.fake_stack = nullptr;
}

void switch_context(FiberContext& from, FiberContext& to) {
  before_switch(&from.fake_stack, to);
  attncc_fiber_switch(&from.stack_pointer, to.stack_pointer);
  after_switch(from);
}

// Where exit_context stores the stack pointer of the fiber it leaves for good. Not a local:
// with AddressSanitizer's use-after-return detection locals live on the fake stack, which
// __sanitizer_start_switch_fiber(nullptr, ...) has just released.
thread_local void* t_abandoned_stack_pointer = nullptr;

void exit_context(FiberContext& to) {
#if defined(ATTNCC_FIBER_ASAN)
  __sanitizer_start_switch_fiber(nullptr, to.stack_bottom, to.stack_size);
#endif
  attncc_fiber_switch(&t_abandoned_stack_pointer, to.stack_pointer);
  __builtin_unreachable();
}

void destroy_context(FiberContext&) {}

#else  // ucontext

namespace {
struct UcontextStart {
  void (*function)(void*);
  void* argument;
};
// makecontext passes int arguments only: the start record's address as two halves.
void ucontext_entry(unsigned low, unsigned high) {
  auto* start = reinterpret_cast<UcontextStart*>((uintptr_t(high) << 32) | uintptr_t(low));
  start->function(start->argument);
}
}  // namespace

void make_context(FiberContext& context, FiberStack& stack, void (*function)(void*),
                  void* argument) {
  destroy_context(context);
  auto* native = new ucontext_t();
  auto* start = new UcontextStart{function, argument};
  getcontext(native);
  native->uc_stack.ss_sp = stack.bottom();
  native->uc_stack.ss_size = stack.size();
  native->uc_link = nullptr;
  auto address = reinterpret_cast<uintptr_t>(start);
  makecontext(native, reinterpret_cast<void (*)()>(&ucontext_entry), 2, unsigned(address),
              unsigned(address >> 32));
  context.native = native;
  context.stack_pointer = start;  // owned start record
  context.stack_bottom = stack.bottom();
  context.stack_size = stack.size();
  context.fake_stack = nullptr;
}

namespace {
ucontext_t* native_of(FiberContext& context) {
  if (context.native == nullptr) context.native = new ucontext_t();  // an OS thread's own stack
  return static_cast<ucontext_t*>(context.native);
}
}  // namespace

void switch_context(FiberContext& from, FiberContext& to) {
  before_switch(&from.fake_stack, to);
  swapcontext(native_of(from), native_of(to));
  after_switch(from);
}

void exit_context(FiberContext& to) {
#if defined(ATTNCC_FIBER_ASAN)
  __sanitizer_start_switch_fiber(nullptr, to.stack_bottom, to.stack_size);
#endif
  setcontext(native_of(to));
  __builtin_unreachable();
}

void destroy_context(FiberContext& context) {
  delete static_cast<ucontext_t*>(context.native);
  delete static_cast<UcontextStart*>(context.stack_pointer);
  context.native = nullptr;
  context.stack_pointer = nullptr;
}

#endif

}  // namespace attncc::emulation
