#include "pkg/memory/heap_release.h"

#include <malloc.h>

namespace keel::memory {

size_t FreeHeapBytes() { return mallinfo2().fordblks; }

size_t ReleaseFreeHeap(size_t threshold) {
  const size_t free_bytes = FreeHeapBytes();
  if (free_bytes <= threshold) return 0;
  malloc_trim(0);
  return free_bytes;
}

}  // namespace keel::memory
