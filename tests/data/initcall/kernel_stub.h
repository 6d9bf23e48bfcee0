/*
 * A stand-in for the kernel headers `lockspec initcall` output includes: the
 * types, prototypes and macros it uses, with the kernel's signatures, enough for
 * `gcc -fsyntax-only`. The tests point every <linux/...> include at this file.
 */
#ifndef LOCKSPEC_KERNEL_STUB_H
#define LOCKSPEC_KERNEL_STUB_H

#define NULL ((void *)0)
typedef _Bool bool;
typedef unsigned int gfp_t;

#define __init __attribute__((__section__(".init.text")))
#define subsys_initcall(fn) \
	static int (*__initcall_##fn)(void) __attribute__((__used__)) = fn
#define ENOMEM 12
#define EDEADLK 35
#define GFP_KERNEL ((gfp_t)0xcc0u)

struct lock_class_key { int unused; };
struct lockdep_map { const char *name; struct lock_class_key *key; };
void lockdep_init_map(struct lockdep_map *lock, const char *name,
		      struct lock_class_key *key, int subclass);
#define lockdep_set_class(lock, key) lockdep_init_map(&(lock)->dep_map, #key, key, 0)
void lock_map_acquire(struct lockdep_map *map);
void lock_map_release(struct lockdep_map *map);
void local_irq_disable(void);
void local_irq_enable(void);

typedef struct { struct lockdep_map dep_map; } spinlock_t;
typedef struct { struct lockdep_map dep_map; } raw_spinlock_t;
typedef struct { struct lockdep_map dep_map; } rwlock_t;
typedef struct { spinlock_t lock; } seqlock_t;
struct mutex { struct lockdep_map dep_map; };
struct rw_semaphore { struct lockdep_map dep_map; };
struct ww_class { int unused; };
struct ww_mutex { struct mutex base; };
struct ww_acquire_ctx { struct lockdep_map dep_map; };
struct dma_resv { struct ww_mutex lock; };
struct mm_struct { struct rw_semaphore mmap_lock; };
struct address_space { struct rw_semaphore i_mmap_rwsem; };

void spin_lock_init(spinlock_t *lock);
void spin_lock(spinlock_t *lock);
void spin_unlock(spinlock_t *lock);
void raw_spin_lock_init(raw_spinlock_t *lock);
void raw_spin_lock(raw_spinlock_t *lock);
void raw_spin_unlock(raw_spinlock_t *lock);
void rwlock_init(rwlock_t *lock);
void write_lock(rwlock_t *lock);
void write_unlock(rwlock_t *lock);
void seqlock_init(seqlock_t *sl);
void write_seqlock(seqlock_t *sl);
void write_sequnlock(seqlock_t *sl);
void mutex_init(struct mutex *lock);
void mutex_lock(struct mutex *lock);
void mutex_unlock(struct mutex *lock);
void init_rwsem(struct rw_semaphore *sem);
void down_write(struct rw_semaphore *sem);
void up_write(struct rw_semaphore *sem);

extern struct ww_class reservation_ww_class;
void ww_mutex_init(struct ww_mutex *lock, struct ww_class *ww_class);
int ww_mutex_lock(struct ww_mutex *lock, struct ww_acquire_ctx *ctx);
void ww_mutex_unlock(struct ww_mutex *lock);
void ww_acquire_init(struct ww_acquire_ctx *ctx, struct ww_class *ww_class);
void ww_acquire_fini(struct ww_acquire_ctx *ctx);
void dma_resv_init(struct dma_resv *obj);
int dma_resv_lock(struct dma_resv *obj, struct ww_acquire_ctx *ctx);
void dma_resv_lock_slow(struct dma_resv *obj, struct ww_acquire_ctx *ctx);
void dma_resv_unlock(struct dma_resv *obj);

struct mm_struct *mm_alloc(void);
void mmput(struct mm_struct *mm);
void mmap_write_lock(struct mm_struct *mm);
void mmap_write_unlock(struct mm_struct *mm);
void address_space_init_once(struct address_space *mapping);
void i_mmap_lock_write(struct address_space *mapping);
void i_mmap_unlock_write(struct address_space *mapping);
void fs_reclaim_acquire(gfp_t gfp_mask);
void fs_reclaim_release(gfp_t gfp_mask);
extern struct lockdep_map __mmu_notifier_invalidate_range_start_map;
void __dma_fence_might_wait(void);
bool dma_fence_begin_signalling(void);
void dma_fence_end_signalling(bool cookie);

#endif /* LOCKSPEC_KERNEL_STUB_H */
