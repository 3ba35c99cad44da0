/* Row hashes and hash tables for the append strategy, in C (see native.py).

   The hash is the one rowhash.py computes with NumPy, word for word: a row is read 8 bytes
   at a time as little-endian words (the last one masked to the row's bytes), each word is
   mixed in with a multiply-xorshift keyed by a per-process seed, and the length goes in
   first. Both give the same value for the same row and seed (a test checks it), so either
   can hash the rows of one merge.

   Tables are open-addressed sets of hashes (linear probing), their memory owned by the
   caller: 0 marks an empty slot, so a hash of 0 is stored as 1 (two rows then share a
   slot; every row found by hash is compared byte for byte afterwards anyway).

   The row index (bm_index_*): raw rows by hash for `lineage --rows`, each hash with the
   earliest upload that added it and whether another upload added it too; exact (a hash of
   0 or of all ones is a key like any other), see below.

   bm_plain_numbers: the numeric columns of a CSV/TSV block checked for plain decimal
   numbers, field by field (numfields.py holds the same rule in NumPy and the definition).

   Plain C99 and libc: no Python headers, loaded with ctypes. Little- and big-endian give
   the same values. */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define K1 0x9E3779B97F4A7C15ULL
#define ABI 3

int bm_abi(void) { return ABI; }

static inline uint64_t load8(const unsigned char *p) {
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* The row p[0:len]; `limit` is the end of the buffer it is in: a last partial word is read
   whole (and masked) when 8 bytes fit before it, else byte by byte. */
static inline uint64_t hash1(const unsigned char *p, int64_t len, const unsigned char *limit,
                             uint64_t seed) {
    uint64_t h = ((uint64_t)len + K1) * seed, w;
    int64_t k = 0;
    for (; k + 8 <= len; k += 8) {
        h ^= load8(p + k);
        h *= K1;
        h ^= h >> 29;
    }
    if (k < len || len == 0) {
        int64_t n = len - k;
        if (limit - (p + k) >= 8) {
            w = n ? load8(p + k) & (~0ULL >> (64 - 8 * n)) : 0;
        } else {
            w = 0;
            for (int64_t i = 0; i < n; i++) w |= (uint64_t)p[k + i] << (8 * i);
        }
        h ^= w;
        h *= K1;
        h ^= h >> 29;
    }
    return h ^ (h >> 32);
}

/* Hashes of the records of data[0:len], each ended by \n or \r\n (the terminator is not
   hashed; bytes after the last \n are not a record), at most `cap` of them. Returns how
   many were written; *used is where the next record starts. */
size_t bm_hash_lines(const unsigned char *data, size_t len, uint64_t seed, uint64_t *out,
                     size_t cap, size_t *used) {
    const unsigned char *p = data, *end = data + len, *nl;
    size_t n = 0;
    while (n < cap && p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        const unsigned char *e = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
        out[n++] = hash1(p, e - p, end, seed);
        p = nl + 1;
    }
    *used = (size_t)(p - data);
    return n;
}

/* Hashes of data[starts[i]:starts[i]+lens[i]] for i < n. */
void bm_hash_records(const unsigned char *data, const int64_t *starts, const int64_t *lens,
                     size_t n, size_t len, uint64_t seed, uint64_t *out) {
    for (size_t i = 0; i < n; i++) out[i] = hash1(data + starts[i], lens[i], data + len, seed);
}

/* A bitmap of 2**(64-shift) bits in front of a set of hashes: bit h >> shift is set for
   each hash h of the set. With 16 bits or more per hash, about 1 probe in 16 that is not in
   the set passes it, and the bitmap (2 bytes a hash) stays in the cache where a table of
   the hashes would not. */
void bm_bits_set(unsigned char *bits, unsigned shift, const uint64_t *h, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint64_t b = h[i] >> shift;
        bits[b >> 3] |= (unsigned char)(1u << (b & 7));
    }
}

/* Writes to out the hashes whose bit is set, in order; returns how many. */
size_t bm_bits_probe(const unsigned char *bits, unsigned shift, const uint64_t *h, size_t n,
                     uint64_t *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t b = h[i] >> shift;
        if (bits[b >> 3] >> (b & 7) & 1) out[k++] = h[i];
    }
    return k;
}

/* Adds hashes to a table of mask+1 slots (a power of two, kept under half full by the
   caller). Returns how many were not in it yet. */
size_t bm_table_add(uint64_t *table, uint64_t mask, const uint64_t *h, size_t n) {
    size_t added = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = h[i] ? h[i] : 1, j = v & mask;
        while (table[j] && table[j] != v) j = (j + 1) & mask;
        if (!table[j]) {
            table[j] = v;
            added++;
        }
    }
    return added;
}

/* Moves the hashes of an old table (n slots) into a new, larger one. */
void bm_table_rehash(uint64_t *table, uint64_t mask, const uint64_t *old, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!old[i]) continue;
        uint64_t j = old[i] & mask;
        while (table[j]) j = (j + 1) & mask;
        table[j] = old[i];
    }
}

/* hit[i] = 1 when h[i] is in the table, else 0. Returns how many are. */
size_t bm_table_hits(const uint64_t *table, uint64_t mask, const uint64_t *h, size_t n,
                     unsigned char *hit) {
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = h[i] ? h[i] : 1, j = v & mask;
        while (table[j] && table[j] != v) j = (j + 1) & mask;
        hit[i] = table[j] != 0;
        found += hit[i];
    }
    return found;
}

/* The row index: `cap` slots of 12 bytes, a hash (8) then a value (4): 0 for an empty slot,
   else the earliest upload plus one, with the top bit set once a second upload added the
   hash. The empty mark is in the value, so every 64-bit hash is a key. A slot is chosen
   by the hash's top 32 bits scaled to `cap` (any size under 2**32, so the caller sizes the
   table to the rows, not to a power of two), then linear probing. The hashes are keyed by
   a per-process seed, so nobody can make rows crowd one run of slots. A probe is a cache
   miss (the table is far larger than the cache): the slot AHEAD hashes on is prefetched. */

#define SHARED 0x80000000u
#define AHEAD 16
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((p))
#else
#define PREFETCH(p) ((void)(p))
#endif

static inline uint64_t slot_of(uint64_t h, uint64_t cap) { return ((h >> 32) * cap) >> 32; }

/* The slot holding h, or the empty slot where it would go. */
static inline unsigned char *find(unsigned char *table, uint64_t cap, uint64_t h) {
    uint64_t j = slot_of(h, cap), key;
    uint32_t v;
    for (;;) {
        unsigned char *s = table + 12 * j;
        memcpy(&v, s + 8, 4);
        if (!v) return s;
        memcpy(&key, s, 8);
        if (key == h) return s;
        if (++j == cap) j = 0;
    }
}

/* Adds the n hashes of one upload (`upload` < 2**31 - 1); the caller keeps the table at
   most 3/4 full. Returns how many hashes were new to it. */
size_t bm_index_add(unsigned char *table, uint64_t cap, const uint64_t *h, size_t n,
                    uint32_t upload) {
    size_t added = 0;
    uint32_t mine = upload + 1, v;
    for (size_t i = 0; i < n; i++) {
        if (i + AHEAD < n) PREFETCH(table + 12 * slot_of(h[i + AHEAD], cap));
        unsigned char *s = find(table, cap, h[i]);
        memcpy(&v, s + 8, 4);
        if (!v) {
            memcpy(s, &h[i], 8);
            v = mine;
            added++;
        } else if ((v & ~SHARED) != mine) {  /* uploads come in any order: keep the least */
            v = SHARED | ((v & ~SHARED) < mine ? v & ~SHARED : mine);
        }
        memcpy(s + 8, &v, 4);
    }
    return added;
}

/* Counts n hashes against the table: per_upload[u] += 1 for each hash whose earliest
   upload is u; stats[0] += how many were in it, stats[1] += how many of those another
   upload added too. */
void bm_index_count(unsigned char *table, uint64_t cap, const uint64_t *h, size_t n,
                    int64_t *per_upload, int64_t *stats) {
    int64_t found = 0, shared = 0;
    uint32_t v;
    for (size_t i = 0; i < n; i++) {
        if (i + AHEAD < n) PREFETCH(table + 12 * slot_of(h[i + AHEAD], cap));
        memcpy(&v, find(table, cap, h[i]) + 8, 4);
        if (!v) continue;
        found++;
        shared += (v & SHARED) != 0;
        per_upload[(v & ~SHARED) - 1]++;
    }
    stats[0] += found;
    stats[1] += shared;
}

/* A plain decimal number (numfields.py): [+-], digits with at most one dot (and at least one
   digit), then optionally e or E, [+-], digits. An empty field passes (a missing value). */
static int plain_number(const unsigned char *p, size_t n) {
    size_t i = 0, digits = 0, exp_digits = 0;
    int dot = 0;
    if (n == 0) return 1;
    if (p[0] == '+' || p[0] == '-') i++;
    for (; i < n; i++) {
        if (p[i] >= '0' && p[i] <= '9') digits++;
        else if (p[i] == '.' && !dot) dot = 1;
        else break;
    }
    if (!digits) return 0;
    if (i == n) return 1;
    if ((p[i] | 32) != 'e') return 0;
    i++;
    if (i < n && (p[i] == '+' || p[i] == '-')) i++;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) exp_digits++;
    return exp_digits > 0 && i == n;
}

/* 1 when every line of `data` has `fields` fields split at `delim` and each field of a
   column marked in `numeric` is empty or a plain number; else 0. A line may end in CR LF. */
int bm_plain_numbers(const unsigned char *data, size_t len, unsigned char delim, size_t fields,
                     const unsigned char *numeric) {
    size_t i = 0, col = 0;
    if (len == 0) return 1;
    for (;;) {  /* one field a turn; the end of the data ends the last line */
        size_t start = i;
        while (i < len && data[i] != delim && data[i] != '\n') i++;
        size_t end = i;
        int line_end = i == len || data[i] == '\n';
        if (line_end && end > start && data[end - 1] == '\r') end--;
        if (col >= fields) return 0;
        if (numeric[col] && !plain_number(data + start, end - start)) return 0;
        col++;
        if (line_end) {
            if (col != fields) return 0;
            col = 0;
        }
        i++;  /* past the delimiter or the newline */
        if (i > len || (i == len && line_end)) return 1;
    }
}
