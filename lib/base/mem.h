/* mem.h - large buffers on transparent huge pages.
 *
 * Where the kernel gives huge pages only on request (/sys/kernel/mm/transparent_hugepage/enabled
 * = madvise, Debian's default), every 4 KB of a fresh buffer costs one page fault on first
 * touch: a few microseconds each, far more in a virtual machine (t-SNE of 70,000 points touched
 * 820 MB in 210,000 faults, 2 s of system time on 2 cores).  Advised buffers fault once per
 * 2 MB.  The advice is only advice: without transparent huge pages nothing changes, and the
 * buffer is freed with free() as usual. */
#ifndef DN_MEM_H
#define DN_MEM_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

/* Ask for huge pages over the 2 MB-aligned part of [p, p + n). */
static inline void mem_advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t H = (uintptr_t)1 << 21;
	uintptr_t a = ((uintptr_t)p + H - 1) & ~(H - 1), e = ((uintptr_t)p + n) & ~(H - 1);
	if (e > a)
		(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
	(void)p, (void)n;
#endif
}

/* malloc(n), advised when large enough to hold a huge page. */
static inline void *mem_alloc_big(size_t n)
{
	void *p = malloc(n);
	if (p && n >= ((size_t)4 << 20))
		mem_advise_huge(p, n);
	return p;
}

#endif
