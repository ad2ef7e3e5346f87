// Returning freed heap to the operating system. glibc's malloc keeps what a
// burst freed (a push's serialized responses, once written) in its arenas, so
// the process's RSS stays at the burst's peak although the memory is unused;
// malloc_trim hands the free pages back. (Go's runtime, istiod's, does the same
// on its own: its scavenger returns unused heap to the OS.)
#pragma once

#include <cstddef>

namespace keel::memory {

// Heap that malloc holds free (glibc's mallinfo2 fordblks), in bytes.
size_t FreeHeapBytes();

// Trims every malloc arena if more than `threshold` bytes of heap are free.
// Returns the free bytes seen when it trimmed, 0 when it did not. Takes a few
// milliseconds on a large heap; call it from an idle thread, not a hot path.
size_t ReleaseFreeHeap(size_t threshold);

}  // namespace keel::memory
