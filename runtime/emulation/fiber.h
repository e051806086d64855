// Cooperative fibers for the SIMT emulator: each emulated CUDA thread runs on its own stack and
// switches to its block's scheduler at every barrier and warp collective. A switch on x86-64 is
// a few instructions (callee-saved registers and the stack pointer); elsewhere ucontext is used.
// AddressSanitizer is told about every switch, so instrumented builds work.
#pragma once

#include <cstddef>

namespace attncc::emulation {

/// A fiber stack: mmap'ed, with a guard page below it so an overflow faults instead of
/// overwriting another fiber's stack.
class FiberStack {
 public:
  explicit FiberStack(size_t bytes);
  ~FiberStack();
  FiberStack(const FiberStack&) = delete;
  FiberStack& operator=(const FiberStack&) = delete;

  void* bottom() const { return bottom_; }  ///< lowest usable address
  size_t size() const { return size_; }     ///< usable bytes

  /// Clears sanitizer state left by frames that never returned (an abandoned fiber).
  void reset_after_abandon();

 private:
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  void* bottom_ = nullptr;
  size_t size_ = 0;
};

/// Stack size of an emulated thread: kernel frames hold fragment arrays of a few KB; sanitizers
/// add redzones and keep locals apart.
size_t default_fiber_stack_bytes();

/// The saved state of one execution context: a fiber, or the OS thread's own stack (the
/// scheduler), whose stack bounds are learnt at the first switch.
struct FiberContext {
  void* stack_pointer = nullptr;  // x86-64: the saved stack pointer
  void* native = nullptr;         // ucontext_t* elsewhere
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;
  void* fake_stack = nullptr;     // AddressSanitizer's fake stack of this context
};

/// Prepares `context` to run `function(argument)` on `stack` at its first switch_context. The
/// function must never return: it ends with exit_context.
void make_context(FiberContext& context, FiberStack& stack, void (*function)(void*),
                  void* argument);

/// Saves the running context into `from` and resumes `to`; returns when something switches
/// back to `from`.
void switch_context(FiberContext& from, FiberContext& to);

/// The first thing a fiber function does: completes the switch that started it and records the
/// bounds of the stack it came from into `came_from` (for sanitizers).
void start_fiber(FiberContext& came_from);

/// Leaves the running fiber for good and resumes `to`.
[[noreturn]] void exit_context(FiberContext& to);

/// Releases what make_context allocated for `context` (ucontext builds).
void destroy_context(FiberContext& context);

}  // namespace attncc::emulation
